/**
 * The per-table half of the conformance suite: the create/get/update/delete/list rules every entity
 * table obeys, run once per entity with values from fixtures.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlreadyExistsError, NotFoundError, type Storage, type Table } from '../../storage/storage.js';

/** Asserts that `promise` rejects with an instance of `type` carrying exactly `message`. */
export async function assertRejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  message: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
}

/** How the generic table tests build, change and order values of one entity. */
export interface EntityCase<K, T> {
  /** Entity name as backends use it in error messages. */
  readonly what: string;
  /** Picks the entity's table out of a storage. */
  readonly table: (storage: Storage) => Table<K, T>;
  /** Distinct values, with distinct keys, for distinct `n`. */
  readonly make: (n: number) => T;
  /** The key `get`, `update` and `delete` take for a value. */
  readonly keyOf: (value: T) => K;
  /** Same key, different content. */
  readonly change: (value: T) => T;
  /** Same content, different key. */
  readonly rekey: (value: T) => T;
  /** Sort key for comparing lists, whose order the contract leaves open. */
  readonly order: (value: T) => string;
}

const sorted = <T>(values: T[], order: (value: T) => string): T[] =>
  [...values].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));

/** "an auth request", "a client": test names are sentences. */
const article = (what: string): string => `${/^[aeiou]/.test(what) ? 'an' : 'a'} ${what}`;

/** Registers the generic table tests for one entity. */
export function describeEntity<K, T>(storage: () => Storage, c: EntityCase<K, T>): void {
  const a = article(c.what);
  const table = (): Table<K, T> => c.table(storage());
  const one = c.make(1);
  const key = c.keyOf(one);

  describe(`${c.what}s`, () => {
    it(`creates ${a} and reads it back with every field intact`, async () => {
      await table().create(one);
      assert.deepEqual(await table().get(key), one);
    });

    it(`rejects a second ${c.what} with the same key with AlreadyExistsError and keeps the first`, async () => {
      await table().create(one);
      await assertRejectsWith(table().create(c.change(one)), AlreadyExistsError, `${c.what} already exists`);
      assert.deepEqual(await table().get(key), one);
    });

    it(`returns undefined for ${a} that does not exist`, async () => {
      assert.equal(await table().get(key), undefined);
    });

    it(`updates ${a}, passing the stored value to the function and storing its result`, async () => {
      await table().create(one);
      const seen: T[] = [];
      const result = await table().update(key, (old) => {
        seen.push(old);
        return c.change(old);
      });
      assert.deepEqual(seen.at(-1), one);
      assert.deepEqual(result, c.change(one));
      assert.deepEqual(await table().get(key), c.change(one));
    });

    it(`returns undefined after ${a} is deleted, and a second delete answers false`, async () => {
      await table().create(one);
      assert.equal(await table().delete(key), true);
      assert.equal(await table().get(key), undefined);
      assert.equal(await table().delete(key), false);
    });

    it(`throws NotFoundError when updating ${a} that does not exist, without calling the function`, async () => {
      let calls = 0;
      const update = table().update(key, (old) => {
        calls++;
        return old;
      });
      await assertRejectsWith(update, NotFoundError, `${c.what} not found`);
      assert.equal(calls, 0);
      assert.equal(await table().get(key), undefined);
    });

    it(`answers false when deleting ${a} that does not exist, and stores nothing`, async () => {
      assert.equal(await table().delete(key), false);
      assert.deepEqual(await table().list(), []);
    });

    it(`lets exactly one of several parallel deletes of ${a} answer true`, async () => {
      await table().create(one);
      const answers = await Promise.all(Array.from({ length: 5 }, () => table().delete(key)));
      assert.deepEqual(
        answers.filter((deleted) => deleted),
        [true],
      );
      assert.equal(await table().get(key), undefined);
    });

    it(`leaves ${a} unchanged and rethrows the same error when the update function throws`, async () => {
      await table().create(one);
      const failure = new Error('refused by the update function');
      await assert.rejects(
        table().update(key, () => {
          throw failure;
        }),
        (err: unknown) => err === failure,
      );
      assert.deepEqual(await table().get(key), one);
    });

    it(`refuses an update that changes the ${c.what} key and keeps the stored row`, async () => {
      await table().create(one);
      await assert.rejects(table().update(key, (old) => c.rekey(old)));
      assert.deepEqual(await table().get(key), one);
      assert.equal(await table().get(c.keyOf(c.rekey(one))), undefined);
      assert.deepEqual(await table().list(), [one]);
    });

    it(`lists every stored ${c.what}, and nothing when there are none`, async () => {
      assert.deepEqual(await table().list(), []);
      const all = [c.make(3), c.make(1), c.make(2)];
      for (const value of all) await table().create(value);
      assert.deepEqual(sorted(await table().list(), c.order), sorted(all, c.order));
    });

    it(`keeps ${c.what}s with different keys apart on update and delete`, async () => {
      const two = c.make(2);
      await table().create(one);
      await table().create(two);
      await table().update(key, (old) => c.change(old));
      assert.deepEqual(await table().get(c.keyOf(two)), two);
      assert.equal(await table().delete(key), true);
      assert.deepEqual(await table().list(), [two]);
    });
  });
}
