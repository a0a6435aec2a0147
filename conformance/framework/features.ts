/**
 * Optional features an implementation declares in its config (§ conformance
 * README). A case that needs an undeclared feature is N/A, never PASS.
 */
export const FEATURES = [
  // server side
  'publish', // test hook: publish Messages to a channel (nearly every server case)
  'state', // StatePatch/Snapshot channels (publishPatch hook)
  'resume', // sessions survive a socket (RS-*)
  'inbox', // test hook: what the application received from each session (SEQ-10)
  'drain', // test hooks: drain and reset
  'revoke', // test hook: revoke a session's principal (SEC-6)
  'expire', // test hook: the credential of a session's principal expired (SEC-5)
  'throw', // the application's message handler throws on the payload lifeline-conformance:throw (CC-5)
  'origin-allowlist', // an Origin allowlist (HS-2)
  'upgrade-auth', // authentication at the upgrade (HS-4)
  'hello-auth', // authentication by Hello.token (HS-12)
  'tickets', // single-use query tickets (HS-13) via the ticket hook
  'upgrade-rate-limit', // per-IP upgrade rate limit, set by reset limits (HS-5)
  'session-limit', // a session limit, set by reset limits (CC-8)
  'message-rate-limit', // per-session message rate limit (BP-14)
  'channel-limit', // a bound on channels per session, declared as maxChannelsPerSession (SEC-7)
  'subscribed', // Subscribe answered by Subscribed for a client announcing `subscribed` (CH-4)
  'http-timeouts', // an incomplete request head is closed within the declared headersTimeoutMs (HS-15)
  'control-rate-limit', // per-session control-body rate limit (BP-16), declared as controlRatePerSecond and controlBurst
  'detached-limit', // `reset` with limits { maxDetachedSessions } bounds detached sessions; the one that detached first is ended (RS-11)
  'multi-node', // a second node on the same shared store and broker, named by server.peer (spec §21, MN-*)
  'hold', // the application's message handler holds (does not finish) the payload lifeline-conformance:hold (BP-17)
  'http-transport', // the HTTP carrier on the same URL (spec §22, HT-*): the server-mode suite can run over it
  'policy:DROP_OLDEST',
  'policy:DROP_NEWEST',
  'policy:COALESCE_BY_KEY',
  'policy:DISCONNECT',
  // client side
  'http-status', // the client sees the HTTP status of a refused upgrade (Node, not browsers)
  'client-state', // the client applies StatePatch/Snapshot with the conformance reducer
  'client-token', // the client gets its token from the runner (control protocol `token`)
  'client-subscribed', // the client announces `subscribed` and accepts Subscribed (CH-4)
  'client-http-transport', // the client also speaks the HTTP carrier and switches between it and WebSocket (spec §22.7, HT-20 … HT-29)
] as const;
export type Feature = (typeof FEATURES)[number];
