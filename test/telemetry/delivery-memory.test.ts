import { describe, expect, it } from 'vitest';
import { DeliveryMemory, deliveryEvidencePackets, deliveryMemoryWindows } from '../../src/telemetry/delivery-memory.js';

describe('DeliveryMemory', () => {
  it('knows nothing before a window with transit', () => {
    const memory = new DeliveryMemory();
    expect(memory.recall()).toBeNull();
    memory.push(undefined);
    memory.push({ handedIn: 0, handedOn: 0 });
    expect(memory.recall()).toBeNull();
  });

  it('judges a busy node on its newest window alone', () => {
    const memory = new DeliveryMemory();
    memory.push({ handedIn: 100, handedOn: 10 });
    memory.push({ handedIn: deliveryEvidencePackets, handedOn: deliveryEvidencePackets });
    expect(memory.recall()).toEqual({ ratio: 1, ageWindows: 0, handedIn: deliveryEvidencePackets });
  });

  it('sums the newest busy windows until they hold enough packets, skipping quiet ones', () => {
    const memory = new DeliveryMemory();
    memory.push({ handedIn: 30, handedOn: 30 });
    memory.push({ handedIn: 20, handedOn: 5 });
    memory.push(undefined);
    memory.push({ handedIn: 10, handedOn: 5 });
    memory.push({ handedIn: 0, handedOn: 0 });
    // Newest first: 10 (5 on), 20 (5 on), then 30 (30 on) reaches 60 >= 40 packets.
    expect(memory.recall()).toEqual({ ratio: 40 / 60, ageWindows: 1, handedIn: 60 });
  });

  it('keeps the last evidence through a lull and forgets it after the memory span', () => {
    const memory = new DeliveryMemory();
    memory.push({ handedIn: 50, handedOn: 20 });
    for (let i = 0; i < deliveryMemoryWindows - 1; i++) memory.push(undefined);
    expect(memory.recall()).toEqual({ ratio: 0.4, ageWindows: deliveryMemoryWindows - 1, handedIn: 50 });
    memory.push(undefined);
    expect(memory.recall()).toBeNull();
  });

  it('caps the ratio at 1 when more came out than went in (explained drops, packets in flight at the cut)', () => {
    const memory = new DeliveryMemory();
    memory.push({ handedIn: 50, handedOn: 60 });
    expect(memory.recall()!.ratio).toBe(1);
  });
});
