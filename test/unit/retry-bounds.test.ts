import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Every activity retry policy is bounded (retry.maximumAttempts or scheduleToCloseTimeout), or the
 * statement that declares it says why not with a comment starting "Unbounded:" (issue 9). An
 * unbounded policy with no reason is how a NUL byte once retried a 22021 every 5 s without end.
 */
const WORKFLOWS = path.join(__dirname, '../../workflows');

interface Policy { file: string; line: number; bounded: boolean; explained: boolean }

function policies(): Policy[] {
  const found: Policy[] = [];
  for (const name of fs.readdirSync(WORKFLOWS).filter((f) => f.endsWith('.ts'))) {
    const file = path.join(WORKFLOWS, name);
    const text = fs.readFileSync(file, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && /^proxy(Local)?Activities$/.test(node.expression.text)) {
        const options = node.arguments[0];
        const props = options && ts.isObjectLiteralExpression(options) ? options.properties : ts.factory.createNodeArray<ts.ObjectLiteralElementLike>();
        const prop = (o: ts.NodeArray<ts.ObjectLiteralElementLike>, key: string) =>
          o.find((p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && p.name.getText(source) === key);
        const retry = prop(props, 'retry');
        const maxAttempts = retry && ts.isObjectLiteralExpression(retry.initializer) ? prop(retry.initializer.properties, 'maximumAttempts') : undefined;
        const bounded = Boolean(prop(props, 'scheduleToCloseTimeout')) || (maxAttempts !== undefined && maxAttempts.initializer.getText(source) !== '0');
        let statement: ts.Node = node;
        while (statement.parent && !ts.isSourceFile(statement.parent)) statement = statement.parent;
        const comments = (ts.getLeadingCommentRanges(text, statement.getFullStart()) ?? []).map((r) => text.slice(r.pos, r.end));
        const explained = comments.some((c) => /Unbounded: \S.{10,}/.test(c));
        found.push({ file: name, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, bounded, explained });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

describe('activity retry policies', () => {
  it('finds the proxies of every workflow', () => {
    expect(policies().map((p) => p.file).sort()).toEqual(expect.arrayContaining(['booking.ts', 'follow-up.ts', 'notification.ts']));
  });

  it('are bounded or say why they are not', () => {
    const unexplained = policies().filter((p) => !p.bounded && !p.explained).map((p) => `${p.file}:${p.line}`);
    expect(unexplained).toEqual([]);
  });
});
