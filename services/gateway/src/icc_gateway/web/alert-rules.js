// What draws a dispatcher's attention, in one place: the thresholds a supervisor tunes are
// data here, not scattered through the code (attention.js applies them).

export const ALERT_RULES = {
  // A new incident of these priorities, or one raised to them, raises an alert.
  newPriorities: [1, 2],
  // On a page load, incidents created this recently (seconds) still alert unless the
  // dispatcher acknowledged them already: a reload in the middle of a call misses nothing.
  recentS: 600,
  // An open incident with no unit (none assigned yet, or every one released) alerts once it
  // has waited this long (seconds) since the call, by priority. P1 and P2 are dispatched
  // automatically, so for them it means no unit could be found; P3 and P4 wait for a
  // dispatcher's decision.
  waitingS: { 1: 60, 2: 120, 3: 180, 4: 300 },
  // A tone when an alert is raised, repeated this often (seconds) while an alert of these
  // kinds is not acknowledged.
  repeatS: 30,
  repeatKinds: ['new', 'escalation'],
  // Acknowledgements are remembered this long (seconds), per dispatcher, in this browser.
  keepAckS: 24 * 3600,
  // At most this many alerts are shown at once; the others are counted.
  shown: 4,
  // A crew's welfare, by unit status: [amber, red] seconds since the status began. A crew
  // on scene is checked on every 20 minutes (fire services' personnel accountability
  // rhythm); an ambulance held at a hospital past 30 minutes is an offload delay to chase.
  welfareS: { ON_SCENE: [20 * 60, 30 * 60], AT_HOSPITAL: [30 * 60, 45 * 60] },
  // A unit's position older than this (seconds) is stale: the resources service's
  // ICC_RESOURCES_STALE_AFTER_S (the gateway re-sends a unit reporting without moving every
  // 15 s, so a fresh one stays fresh).
  staleS: 60,
};
