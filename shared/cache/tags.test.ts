import { appointmentTags, cacheTags, decodeInvalidation, encodeInvalidation, generationKey } from './tags';

const C = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const P = '0b3c2d7e-9a55-4d6b-8f1b-3a4f5e6d7c8b';
const L = 'e1d2c3b4-a596-4877-8899-aabbccddeeff';

describe('cache tags', () => {
  it('an appointment change retires its practitioner and clinic, and room occupancy only when it holds a room', () => {
    expect(appointmentTags({ clinicId: C, practitionerId: P, locationId: L, roomId: null })).toEqual([
      cacheTags.practitioner(C, P), cacheTags.clinic(C),
    ]);
    expect(appointmentTags({ clinicId: C, practitionerId: P, locationId: L, roomId: 'r1' })).toEqual([
      cacheTags.practitioner(C, P), cacheTags.clinic(C), cacheTags.locationRooms(C, L),
    ]);
  });

  it('keeps a clinic\'s generation counters in one Redis Cluster hash slot', () => {
    for (const tag of [cacheTags.practitioner(C, P), cacheTags.clinic(C), cacheTags.locationRooms(C, L)]) {
      expect(generationKey(tag)).toContain(`{${C}}`);
    }
  });

  it('round-trips a message and ignores anything else on the channel', () => {
    const tags = [cacheTags.clinic(C)];
    expect(decodeInvalidation(encodeInvalidation(tags))).toEqual(tags);
    for (const junk of ['', 'not json', '{"tags":"x"}', '{"tags":[1]}', 'null', '[]']) expect(decodeInvalidation(junk)).toBeNull();
  });
});
