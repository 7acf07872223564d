/**
 * The hand-written message types against the .proto files: every codec made in node/ (`codec<T>('Name')` in
 * node/session/messages.ts, `loadProtoType<T>(file, 'frostnet.v1.Name')` anywhere in node/transport/) declares
 * a type T with exactly the fields of its proto message, under the same (camelCase) names and of the same kind,
 * nested messages and oneofs included, as the codec decodes them (bytes: Uint8Array, 64-bit integers: bigint,
 * enums: their names). The TypeScript compiler reads the types; protobufjs reads the schemas. Every message of
 * the schemas is reached by some declared type.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import ts from 'typescript';

const at = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const SOURCES = ['node/session/messages.ts', 'node/transport/wire.ts'];
const root = protobuf.loadSync([at('proto/envelope.proto'), at('proto/ceremonies.proto')]).resolveAll();

/**
 * Fields of the schema that no declared type carries, each with why. A raw message travels in the oneof member
 * that says its path is below the raw-message branch (payloadToWire / withPayload in messages.ts): the type
 * names it `raw`, the wire `raw_in_branch`; the wire's own `raw` is what coordinators before signing domains sent.
 */
const WIRE_ONLY = new Set(['SignPayload.rawInBranch']);

/**
 * Fields whose declared kind is what the node reads them as, not what protobufjs decodes, each with the
 * function that converts them. The sign payload is decoded opaque and read by withPayload (messages.ts), which
 * reads a proposal's uint64 expiry with proposalFromWire.
 */
const CONVERTED: { path: RegExp; by: string }[] = [
  { path: /(^SignPayload|\.payload)\.proposal\.proposal\.expiresAt$/, by: 'withPayload / proposalFromWire' },
];

type Kind = 'bytes' | 'string' | 'number' | 'bigint' | 'boolean' | 'message' | 'unknown';

const program = (() => {
  const { config } = ts.readConfigFile(at('tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, at(''));
  return ts.createProgram(SOURCES.map(at), options);
})();
/** The checker that reads the types compared (the probe test swaps in its own). */
const checkerRef = { current: program.getTypeChecker() };

/** The type without null and undefined (optional fields and messages that decode as null when absent). */
function present(t: ts.Type): ts.Type[] {
  const parts = t.isUnion() ? t.types : [t];
  return parts.filter((p) => !(p.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
}

/** The type with any pure index-signature part of an intersection left out (`X & Record<string, unknown>`). */
function declared(t: ts.Type): ts.Type {
  if (!t.isIntersection()) return t;
  const named = t.types.filter((p) => p.getProperties().length > 0 || p.isUnion());
  return named.length === 1 && named[0] ? named[0] : t;
}

function kindOf(parts: ts.Type[]): Kind {
  const every = (f: ts.TypeFlags) => parts.length > 0 && parts.every((p) => p.flags & f);
  if (parts.length === 1 && parts[0]?.getSymbol()?.name === 'Uint8Array') return 'bytes';
  if (every(ts.TypeFlags.StringLike)) return 'string';
  if (every(ts.TypeFlags.NumberLike)) return 'number';
  if (every(ts.TypeFlags.BooleanLike)) return 'boolean';
  if (
    parts.some((p) => p.flags & ts.TypeFlags.BigIntLike) &&
    parts.every((p) => p.flags & (ts.TypeFlags.BigIntLike | ts.TypeFlags.NumberLike))
  )
    return 'bigint';
  if (parts.every((p) => p.flags & ts.TypeFlags.Object || p.isIntersection())) return 'message';
  return 'unknown';
}

const PROTO_KIND: Record<string, Kind> = {
  bytes: 'bytes',
  string: 'string',
  bool: 'boolean',
  uint32: 'number',
  int32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  double: 'number',
  float: 'number',
  uint64: 'bigint',
  int64: 'bigint',
  sint64: 'bigint',
  fixed64: 'bigint',
  sfixed64: 'bigint',
};

const reached = new Set<string>();

/** What differs between the declared type `t` and proto message `m`, as lines naming the field. */
function compare(t: ts.Type, m: protobuf.Type, where: string): string[] {
  reached.add(m.fullName);
  const out: string[] = [];
  const fields = m.fieldsArray;
  const parts = present(declared(t));
  // A oneof as a union of one-field objects (SignPayload): each member one field of the oneof.
  const oneof = m.oneofsArray[0];
  if (parts.length > 1 && oneof && oneof.fieldsArray.length === fields.length) {
    const named = new Set<string>();
    for (const part of parts) {
      const props = part.getProperties();
      if (props.length !== 1 || !props[0]) {
        out.push(`${where}: a union member with ${props.length} fields for oneof ${oneof.name}`);
        continue;
      }
      named.add(props[0].name);
      out.push(...field(props[0], m, where));
    }
    for (const f of fields)
      if (!named.has(f.name) && !WIRE_ONLY.has(`${m.name}.${f.name}`))
        out.push(`${where}.${f.name}: in the schema (${m.name}), not in the type`);
    return out;
  }
  if (parts.length !== 1 || !parts[0]) return [`${where}: not one object type for ${m.name}`];
  const props = parts[0].getProperties();
  for (const p of props) out.push(...field(p, m, where));
  const names = new Set(props.map((p) => p.name));
  for (const f of fields)
    if (!names.has(f.name) && !WIRE_ONLY.has(`${m.name}.${f.name}`))
      out.push(`${where}.${f.name}: in the schema (${m.name}), not in the type`);
  return out;
}

/** One declared property against the field of that name. */
function field(p: ts.Symbol, m: protobuf.Type, where: string): string[] {
  const at = `${where}.${p.name}`;
  const f = m.fields[p.name];
  if (!f)
    return [
      `${at}: in the type, not in the schema (${m.name} has ${m.fieldsArray.map((x) => x.name).join(', ')})`,
    ];
  let t = declared(checkerRef.current.getNonNullableType(checkerRef.current.getTypeOfSymbol(p)));
  if (f.repeated) {
    if (!checkerRef.current.isArrayType(t))
      return [`${at}: repeated in the schema, not an array in the type`];
    t = (checkerRef.current.getTypeArguments(t as ts.TypeReference)[0] as ts.Type | undefined) ?? t;
  } else if (checkerRef.current.isArrayType(t))
    return [`${at}: an array in the type, not repeated in the schema`];
  const resolved = f.resolvedType;
  if (resolved instanceof protobuf.Type) {
    const k = kindOf(present(declared(t)));
    if (k !== 'message') return [`${at}: ${k} in the type, message ${resolved.name} in the schema`];
    return compare(t, resolved, at);
  }
  const parts = present(t);
  if (resolved instanceof protobuf.Enum) {
    // Decoded by name; a value the schema does not name decodes as its number.
    const names = parts.some((x) => x.flags & ts.TypeFlags.StringLike);
    const only = parts.every((x) => x.flags & (ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike));
    return names && only
      ? []
      : [`${at}: ${kindOf(parts)} in the type, enum ${resolved.name} (string) in the schema`];
  }
  const want = PROTO_KIND[f.type] ?? 'unknown';
  const got = kindOf(parts);
  if (got === want || CONVERTED.some((c) => c.path.test(at))) return [];
  return [`${at}: ${got} in the type, ${f.type} (${want}) in the schema`];
}

/** Every codec declared in the sources: its type argument and the message it names. */
function codecs(): { where: string; type: ts.Type; message: string }[] {
  const out: { where: string; type: ts.Type; message: string }[] = [];
  for (const file of SOURCES) {
    const sf = program.getSourceFile(at(file));
    assert.ok(sf, file);
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.typeArguments?.length === 1) {
        const callee = n.expression.text;
        const arg =
          callee === 'codec' ? n.arguments[0] : callee === 'loadProtoType' ? n.arguments[1] : undefined;
        const typeArg = n.typeArguments[0];
        if (arg && typeArg && ts.isStringLiteral(arg)) {
          const message = callee === 'codec' ? `frostnet.v1.${arg.text}` : arg.text;
          const line = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
          out.push({
            where: `${file}:${line} ${typeArg.getText()}`,
            type: checkerRef.current.getTypeFromTypeNode(typeArg),
            message,
          });
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

/** The type alias `name` exported by `file`. */
function alias(file: string, name: string): ts.Type {
  const sf = program.getSourceFile(at(file));
  assert.ok(sf, file);
  const c = checkerRef.current;
  const sym = c.getSymbolAtLocation(sf);
  const exp = sym && c.getExportsOfModule(sym).find((s) => s.name === name);
  assert.ok(exp, `${file} exports ${name}`);
  return c.getDeclaredTypeOfSymbol(exp);
}

test('every codec of node/ declares exactly the fields of its proto message, of the same kinds', {
  timeout: 60_000,
}, () => {
  const all = codecs();
  assert.ok(all.length >= 20, `found ${all.length} codecs`);
  const problems: string[] = [];
  for (const c of all) problems.push(...compare(c.type, root.lookupType(c.message), c.where));
  // The sign payload: its codecs take it opaque (Record<string, unknown>, mapped by payloadToWire), so the
  // union the node works with is checked here against the oneof.
  problems.push(
    ...compare(
      alias('node/session/messages.ts', 'SignPayload'),
      root.lookupType('frostnet.v1.SignPayload'),
      'SignPayload',
    ),
  );
  assert.deepEqual(problems, []);
  const messages: string[] = [];
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type) messages.push(o.fullName);
      if (o instanceof protobuf.Namespace) walk(o);
    }
  };
  walk(root);
  assert.deepEqual(
    messages.filter((m) => !reached.has(m)),
    [],
    'messages of the schemas no declared type reaches',
  );
});

test('the check finds a renamed field, a wrong kind, a field missing on either side and a wrong oneof', () => {
  const src = `
    export type A = { keyName: string; threshold: number; members: string[] };
    export type WrongKind = { sigma: string; groupDigest: Uint8Array; network: string };
    export type Extra = { delta: Uint8Array; extra: number };
    export type NotRepeated = { commitments: { hiding: Uint8Array; binding: Uint8Array } };
    export type Payload = { drill: { challenge: Uint8Array } } | { psbt: { psbt: Uint8Array } };
  `;
  const host = ts.createCompilerHost({ strict: true });
  const read = host.getSourceFile;
  host.getSourceFile = (name, lang) =>
    name === 'probe.ts' ? ts.createSourceFile(name, src, lang) : read.call(host, name, lang);
  const p = ts.createProgram(['probe.ts'], { strict: true, types: [] }, host);
  const c = p.getTypeChecker();
  const sf = p.getSourceFile('probe.ts');
  assert.ok(sf);
  const mod = c.getSymbolAtLocation(sf);
  assert.ok(mod);
  const t = (name: string) => {
    const s = c.getExportsOfModule(mod).find((x) => x.name === name);
    assert.ok(s);
    return c.getDeclaredTypeOfSymbol(s);
  };
  // The probe's types are read by its own checker: compare through it.
  const saved = checkerRef.current;
  checkerRef.current = c;
  try {
    const msg = (n: string) => root.lookupType(`frostnet.v1.${n}`);
    assert.match(compare(t('A'), msg('RepairInvite'), 'A').join('\n'), /A.groupKey: in the schema/);
    assert.match(
      compare(t('WrongKind'), msg('RepairSigma'), 'W').join('\n'),
      /W.sigma: string in the type, bytes/,
    );
    assert.match(
      compare(t('Extra'), msg('RepairDelta'), 'E').join('\n'),
      /E.extra: in the type, not in the schema/,
    );
    assert.match(
      compare(t('NotRepeated'), msg('SignCommitments'), 'N').join('\n'),
      /N.commitments: repeated in the schema, not an array/,
    );
    const payload = compare(t('Payload'), msg('SignPayload'), 'P').join('\n');
    assert.match(payload, /P.psbt.network: in the schema/);
    assert.match(payload, /P.raw: in the schema/);
    assert.doesNotMatch(payload, /rawInBranch/);
  } finally {
    checkerRef.current = saved;
  }
});
