import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * An nginx binary for tests that put the compose gateway's configuration in front of the real
 * API and Web UI: one on PATH, else Debian's package unpacked into the user cache (`apt-get
 * download` + `dpkg-deb -x`: no installation, so no system service is started). Returns why there
 * is none when it cannot be had; never throws.
 */
export function ensureNginx(): { path: string } | { missing: string } {
  const onPath = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return { path: onPath };
  const dir = path.join(os.homedir(), '.cache', 'clinic-backend', 'nginx');
  const binary = path.join(dir, 'root', 'usr', 'sbin', 'nginx');
  if (fs.existsSync(binary)) return { path: binary };
  try {
    fs.mkdirSync(dir, { recursive: true });
    const download = () => execFileSync('apt-get', ['download', '-q', 'nginx'], { cwd: dir, stdio: 'ignore', timeout: 5 * 60_000 });
    try {
      download();
    } catch {
      execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update', '-q'], { stdio: 'ignore', timeout: 10 * 60_000 });
      download();
    }
    const deb = fs.readdirSync(dir).find((f) => /^nginx_.*\.deb$/.test(f));
    if (!deb) return { missing: 'apt-get download nginx produced no package' };
    execFileSync('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'root')], { stdio: 'ignore' });
  } catch (err) {
    return { missing: `nginx is not on PATH and Debian's package could not be fetched: ${(err as Error).message.split('\n')[0]}` };
  }
  return fs.existsSync(binary) ? { path: binary } : { missing: `unpacked nginx but ${binary} is absent` };
}
