/**
 * What a node's neighbours remember of its delivery. A grey hole drops a share of the transit
 * its neighbours hand it, but once routes move away, or between bursts of a flow, it carries no
 * transit and a single window shows nothing. The neighbours saw the drop, though, and still
 * know it: the remembered ratio sums the newest windows that carried transit until they hold
 * enough packets to be trusted, looking back at most `deliveryMemoryWindows` windows. A node with
 * steady traffic is judged on its newest window alone; a quiet one on its last busy windows,
 * with their age, so that a model can weigh old evidence less.
 */

/** Delivery of flows through the node as its neighbours see it, during one window. */
export interface DeliveryCounts {
  /** Data packets neighbours handed to the node. */
  readonly handedIn: number;
  /** Data packets the node handed on to a neighbour or delivered to itself. */
  readonly handedOn: number;
  /** Of the packets handed in, those addressed to the node itself (absent: unknown, 0). */
  readonly deliveredHere?: number;
}

/** Windows a node's delivery is remembered (30 one-second windows: half a minute). */
export const deliveryMemoryWindows = 30;
/** Packets handed to the node that make a remembered ratio trustworthy. */
export const deliveryEvidencePackets = 40;

/** The remembered delivery: its ratio and the age, in windows, of the newest window with transit (0: this one). */
export interface RememberedDelivery {
  readonly ratio: number;
  readonly ageWindows: number;
  /** Packets handed in over the windows summed. */
  readonly handedIn: number;
}

/** A ring of the newest windows' delivery counts (see the module comment). */
export class DeliveryMemory {
  private readonly handedIn = new Float64Array(deliveryMemoryWindows);
  private readonly handedOn = new Float64Array(deliveryMemoryWindows);
  /** Windows pushed so far. */
  private pushed = 0;

  /** Ends a window with its counts; absent: nothing was measured (the node was down, or a driver that cannot see it). */
  push(counts: DeliveryCounts | undefined): void {
    const slot = this.pushed % deliveryMemoryWindows;
    this.handedIn[slot] = counts?.handedIn ?? 0;
    this.handedOn[slot] = counts?.handedOn ?? 0;
    this.pushed++;
  }

  /** The ratio over the newest windows with transit until they hold `deliveryEvidencePackets`; null when none had any. */
  recall(): RememberedDelivery | null {
    let handedIn = 0;
    let handedOn = 0;
    let newest = -1;
    const depth = Math.min(this.pushed, deliveryMemoryWindows);
    for (let age = 0; age < depth && handedIn < deliveryEvidencePackets; age++) {
      const slot = (this.pushed - 1 - age) % deliveryMemoryWindows;
      if (this.handedIn[slot]! === 0) continue;
      if (newest < 0) newest = age;
      handedIn += this.handedIn[slot]!;
      handedOn += this.handedOn[slot]!;
    }
    if (newest < 0) return null;
    return { ratio: Math.min(handedOn / handedIn, 1), ageWindows: newest, handedIn };
  }
}
