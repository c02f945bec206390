// jscounter: the wasmvisor counter plugin in JavaScript (world plugin-with-health).
// Messages (UTF-8 text): `inc` adds 1 to the count kept under state key `count`
// and replies with the new count; `get` replies the count; `crash` traps the
// instance; anything else is an error reply.
import { get, set } from 'wasmvisor:plugin/state@0.1.1';
import { log } from 'wasmvisor:plugin/log@0.1.1';

const KEY = 'count';
const enc = new TextEncoder();
const dec = new TextDecoder();

function count() {
  const value = get(KEY); // option<list<u8>>: Uint8Array or undefined
  if (value === undefined) return 0;
  const n = parseInt(dec.decode(value), 10);
  return Number.isNaN(n) ? 0 : n;
}

export const handler = {
  // result<list<u8>, string>: return the ok value; a thrown string is `err`.
  handle(message) {
    const text = dec.decode(message);
    switch (text) {
      case 'inc': {
        const next = count() + 1;
        try {
          set(KEY, enc.encode(String(next))); // result<_, state-error>: throws on err
        } catch (e) {
          // e.payload is the state-error variant, e.g. { tag: 'quota-exceeded', val: 1024n }
          // (u64 -> BigInt). Rethrow a string: a non-string `err` would trap.
          const p = e.payload;
          throw `cannot save \`${KEY}\`: ${p ? `${p.tag} (${p.val})` : String(e)}`;
        }
        return enc.encode(String(next));
      }
      case 'get':
        return enc.encode(String(count()));
      case 'crash':
        // A trap, not an `err`: only a thrown *string* becomes `err(string)`;
        // a thrown Error (or any non-string) cannot be lowered, so the
        // generated bindings abort and the instance traps (`unreachable`).
        log('warn', 'asked to crash');
        throw new Error('asked to crash');
      default:
        throw 'try `inc`, `get` or `crash`';
    }
  },
};

export const health = {
  check() {
    return { tag: 'healthy' };
  },
};
