import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a quiet headless run on a shared CI machine (no sandbox: tests run as root). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

/**
 * The Debian `chromium` package, installed when missing (the machines run tests as root with the
 * Debian archive reachable). Returns why it is not there when it cannot be had, so a test can
 * skip saying so; never throws.
 */
export function ensureChromium(): { path: string } | { missing: string } {
  if (fs.existsSync(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  const apt = (args: string[]) => execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
    stdio: 'ignore', timeout: 15 * 60_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  try {
    try {
      apt(['install', '-y', '-q', 'chromium']);
    } catch {
      apt(['update', '-q']);
      apt(['install', '-y', '-q', 'chromium']);
    }
  } catch (err) {
    return { missing: `chromium is not installed at ${CHROMIUM_PATH} and \`apt-get install -y chromium\` failed: ${(err as Error).message.split('\n')[0]}` };
  }
  return fs.existsSync(CHROMIUM_PATH) ? { path: CHROMIUM_PATH } : { missing: `apt-get installed chromium but ${CHROMIUM_PATH} is absent` };
}
