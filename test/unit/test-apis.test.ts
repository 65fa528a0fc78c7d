import fs from 'node:fs';
import path from 'node:path';

/**
 * Every API a test starts runs as the app role, under row-level security (issue 9): integration
 * tests build extra APIs only through test/support/stack.ts `testApp`, which refuses the owner's
 * (superuser) DataSource. A test calling createApp itself could hand it the owner's and test an API
 * that no policy restrains.
 */
it('integration tests build APIs only through testApp', () => {
  const dir = path.join(__dirname, '../integration');
  const offenders = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))
    .filter((f) => /\bcreateApp\s*\(/.test(fs.readFileSync(path.join(dir, f), 'utf8')));
  expect(offenders).toEqual([]);
});
