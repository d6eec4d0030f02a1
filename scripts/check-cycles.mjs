// Fails when production modules import each other in a cycle, type-only imports included (ARCHITECTURE.md,
// "Dependency rules"). eslint-plugin-import-x's no-cycle skips `import type`, and a type-only cycle still ties two
// modules together, so this reads every import and export-from of src/, connectors/, storage/ and web/ with the
// TypeScript parser and reports each strongly connected component of more than one file (or a file importing itself).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOTS = ['src', 'connectors', 'storage', 'web'];

const sourceFiles = (dir) =>
  readdirSync(dir, { recursive: true })
    .map((entry) => join(dir, String(entry)))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));

/** The relative module specifiers a file imports or re-exports, resolved to repository paths. */
const importsOf = (file) => {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const specifiers = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      specifiers.push(node.argument.literal.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg !== undefined && ts.isStringLiteral(arg)) specifiers.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative('.', resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))));
};

const files = ROOTS.flatMap(sourceFiles);
const known = new Set(files);
const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => known.has(target))]));

// Tarjan's strongly connected components, iterative so deep chains cannot overflow the stack.
const index = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
const cycles = [];
let counter = 0;
for (const start of files) {
  if (index.has(start)) continue;
  const work = [{ node: start, next: 0 }];
  index.set(start, counter);
  low.set(start, counter++);
  stack.push(start);
  onStack.add(start);
  while (work.length > 0) {
    const frame = work[work.length - 1];
    const edges = graph.get(frame.node);
    if (frame.next < edges.length) {
      const target = edges[frame.next++];
      if (!index.has(target)) {
        index.set(target, counter);
        low.set(target, counter++);
        stack.push(target);
        onStack.add(target);
        work.push({ node: target, next: 0 });
      } else if (onStack.has(target)) {
        low.set(frame.node, Math.min(low.get(frame.node), index.get(target)));
      }
      continue;
    }
    work.pop();
    if (work.length > 0) {
      const parent = work[work.length - 1].node;
      low.set(parent, Math.min(low.get(parent), low.get(frame.node)));
    }
    if (low.get(frame.node) !== index.get(frame.node)) continue;
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== frame.node);
    if (component.length > 1 || graph.get(frame.node).includes(frame.node)) cycles.push(component.sort());
  }
}

if (cycles.length > 0) {
  for (const cycle of cycles) {
    console.error(`import cycle (type-only imports count too) among:\n  ${cycle.join('\n  ')}`);
  }
  process.exit(1);
}
console.log(`no import cycles among ${files.length} production files`);
