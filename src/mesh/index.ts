/** Public API of the sans-IO routing core: `x0tta6bl4/mesh`. */
export { MeshNode, advertiseThreshold, seqnoRequestHopCount, seqnoRequestsMax } from './node.js';
export type { MeshNodeConfig, RouteView } from './node.js';
export type { MeshEvent, MeshInput, MeshOutput, MeshStats, PingInput, SendInput, Transmit, FeedbackEvent, LinkDataCounts, LinkMessageEvent } from './types.js';
export type { LinkId, DownReason } from './neighbour.js';
export { fastProfile, rfc8966Profile, profiles, isProfileName } from './profiles.js';
export type { TimingProfile, ProfileName } from './profiles.js';
export { seqnoCompare, seqnoNewer, seqnoPlus, seqnoHalfway } from './seqno.js';
export { isFeasible, advanceFeasibility } from './feasibility.js';
export type { FeasibilityDistance } from './feasibility.js';
export { linkCost, rttPenalty, rxCostFromHistory, nominalLinkCost } from './link-cost.js';
export { hopLimitDefault } from './forwarding.js';
