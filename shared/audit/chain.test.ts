import { canonicalize, chainHash, ChainRow, emptyChain, verifyRows } from './chain';

const base = {
  clinicId: '7d9f3c1e-0b7a-4c8e-9a51-2f0c6d1e8b44', actorUserId: '0f1e2d3c-4b5a-4697-8877-665544332211', action: 'patient.read',
  resourceType: 'Patient', resourceId: '11111111-2222-4333-8444-555555555555', requestId: 'req-1', ip: '127.0.0.1',
};

function chain(n: number): ChainRow[] {
  const rows: ChainRow[] = [];
  for (let i = 0; i < n; i++) {
    const fields = { ...base, requestId: `req-${i}`, occurredAt: `2025-11-27T10:00:0${i}.12345${i}Z`, prevHash: rows[i - 1]?.hash ?? null };
    rows.push({ id: String(10 + i * 3), ...fields, hash: chainHash(fields) });
  }
  return rows;
}

describe('audit chain', () => {
  it('serializes NULL and empty strings differently, and field boundaries unambiguously', () => {
    const f = { ...base, occurredAt: '2025-11-27T10:00:00.000000Z', prevHash: null };
    expect(canonicalize({ ...f, resourceId: null })).not.toBe(canonicalize({ ...f, resourceId: '' }));
    expect(canonicalize({ ...f, action: 'a|1:b', resourceType: 'c' })).not.toBe(canonicalize({ ...f, action: 'a', resourceType: 'b|1:c' }));
    expect(canonicalize({ ...f, ip: null, requestId: null })).toBe(
      `v1|36:${base.clinicId}|36:${base.actorUserId}|12:patient.read|7:Patient|36:${base.resourceId}|~|~|27:2025-11-27T10:00:00.000000Z|~`,
    );
    // Byte length, not UTF-16 length: the SQL side counts octets.
    expect(canonicalize({ ...f, action: 'é' })).toContain('|2:é|');
  });

  it('accepts an intact chain, in pages, and reports the head', () => {
    const rows = chain(6);
    const s = verifyRows(verifyRows(emptyChain(), rows.slice(0, 4)), rows.slice(4));
    expect(s).toEqual({ checked: 6, lastHash: rows[5].hash, lastId: rows[5].id, broken: null });
  });

  it('reports an altered row by its hash', () => {
    const rows = chain(5);
    rows[2] = { ...rows[2], resourceId: '99999999-2222-4333-8444-555555555555' };
    expect(verifyRows(emptyChain(), rows)).toMatchObject({ checked: 2, broken: { id: rows[2].id, reason: 'hash-mismatch' } });
  });

  it('reports a row missing from the middle or the start at the row after it', () => {
    const rows = chain(5);
    expect(verifyRows(emptyChain(), [...rows.slice(0, 2), ...rows.slice(3)]).broken).toEqual({ id: rows[3].id, reason: 'prev-hash-mismatch' });
    expect(verifyRows(emptyChain(), rows.slice(1)).broken).toEqual({ id: rows[1].id, reason: 'prev-hash-mismatch' });
  });

  it('reports a rewritten row even when its own hash was recomputed', () => {
    const rows = chain(4);
    const forged = { ...rows[1], action: 'patient.list' };
    rows[1] = { ...forged, hash: chainHash(forged) };
    expect(verifyRows(emptyChain(), rows).broken).toEqual({ id: rows[2].id, reason: 'prev-hash-mismatch' });
  });
});
