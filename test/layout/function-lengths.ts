// The functions of the source and their lengths, as the function-length check reads them: every function
// declaration, method, constructor, accessor, function expression and arrow function, found with the
// TypeScript compiler's parser (a regex cannot tell where a function ends). A nested function counts on its
// own, and inside the one that holds it, as an editor would show both.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import ts from 'typescript';

export interface FunctionLength {
  /** Repository-relative path, `:` and the function's name (`Class.method`, `<arrow>@line` when it has none). */
  readonly id: string;
  readonly file: string;
  readonly line: number;
  readonly lines: number;
}

/** A function's name as a reader finds it: its own, its variable's or property's, its class's and its own. */
function nameOf(node: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  const own = node.name && ts.isIdentifier(node.name) ? node.name.text : node.name?.getText(sf);
  const parent = node.parent;
  let name = own;
  if (!name && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) name = parent.name.text;
  if (!name && ts.isPropertyAssignment(parent)) name = parent.name.getText(sf);
  if (!name && ts.isPropertyDeclaration(parent)) name = parent.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) name = 'constructor';
  const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  if (!name) return `<${ts.isArrowFunction(node) ? 'arrow' : 'function'}>@${line}`;
  const owner = ts.isClassLike(parent) && parent.name ? `${parent.name.text}.` : '';
  return `${owner}${name}`;
}

/** Every function in one source text, with its length in lines from its first token to its last. */
export function functionLengths(path: string, text: string, root: string): FunctionLength[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const file = relative(root, path);
  const out: FunctionLength[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = sf.getLineAndCharacterOfPosition(fn.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(fn.getEnd()).line;
      out.push({ id: `${file}:${nameOf(fn, sf)}`, file, line: first + 1, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Every function in the given files, longest first. */
export function allFunctionLengths(files: readonly string[], root: string): FunctionLength[] {
  return files
    .flatMap((file) => functionLengths(file, readFileSync(file, 'utf8'), root))
    .sort((a, b) => b.lines - a.lines || a.id.localeCompare(b.id));
}
