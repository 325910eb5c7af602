// sizeMaps (src/cli/objects.ts): a map left at 0 entries asks for --map-size only when 0 is not its
// kernel's own rule: local storage maps (task, socket, inode, cgroup) must be created with 0 entries.
import { describe, expect, it } from 'vitest';
import { sizeMaps } from '../../src/cli/objects.js';
import { MapFlag, type MapSpec, MapType } from '../../src/spec/maps.js';
import type { ObjectSpec } from '../../src/spec/object.js';

const object = (...maps: MapSpec[]): ObjectSpec => ({ programs: [], maps, license: 'GPL' });
const storage = (type: number): MapSpec => ({
  name: `s${type}`,
  type,
  keySize: 4,
  valueSize: 8,
  maxEntries: 0,
  flags: MapFlag.NO_PREALLOC,
  btfKeyTypeId: 1,
  btfValueTypeId: 2,
});

describe('sizeMaps', () => {
  it('leaves local storage maps at 0 entries (their rule) and sizes nothing else of theirs', () => {
    for (const type of [
      MapType.TASK_STORAGE,
      MapType.SK_STORAGE,
      MapType.INODE_STORAGE,
      MapType.CGRP_STORAGE,
    ]) {
      const spec = object(storage(type));
      expect(() => sizeMaps(spec, {}, 2)).not.toThrow();
      expect(spec.maps[0]!.maxEntries).toBe(0);
    }
  });

  it('still asks for a hash map left at 0, by name', () => {
    const hash: MapSpec = {
      name: 'allowed',
      type: MapType.HASH,
      keySize: 4,
      valueSize: 4,
      maxEntries: 0,
      flags: 0,
    };
    expect(() => sizeMaps(object(storage(MapType.TASK_STORAGE), hash), {}, 2)).toThrow(
      /map allowed has max_entries 0 \(its loader sizes it\): give --map-size allowed=N/,
    );
  });
});
