// Package delivery makes the attempts of Herald's deliveries: what happens
// when a webhook is sent. The job queue (package queue) only schedules work
// and calls [Deliverer.Deliver], which takes one delivery through
//
//  1. load (load.go): the delivery, its event and its endpoint in one
//     query, batched with concurrent attempts; the body rendered for
//     pushing (a thin type's notification, the endpoint's binary content
//     mode, see render.go) and the endpoint's settings opened (live signing
//     secrets, static and config headers, auth, client certificate);
//  2. decide (decide.go): whether it goes now, waits (a pending endpoint,
//     an open circuit, a rate-limit slot), is dropped (settled, superseded
//     by a retry by hand) or fails without an attempt;
//  3. sign and send (deliver.go): auth added, then [Sender] signs and
//     POSTs it (package webhook);
//  4. classify (decide.go): the outcome becomes the delivery's next state,
//     the delay before the next attempt and what is recorded;
//  5. record (record.go): the attempt and the new state, batched with
//     concurrent attempts, with the endpoints' health (circuit breaker,
//     auto-disable) and the operational events it causes (endpoint
//     disabled, delivery exhausted or recovered).
//
// Steps 2 and 4 are one pure function, [Decide], the delivery state
// machine; its table test lists every outcome. Everything else is the
// steps' input and output.
//
// [ConnectorRunner] does the same for one attempt of a hosted connector's
// run, on the same retry schedule.
//
// # Adding a channel
//
// A push channel other than HTTP (a WebSocket, a connector that takes
// deliveries) implements [Sender]: it receives the rendered and signed
// message and reports a webhook.Result, and a [Deliverer] built with it
// shares loading, rendering, the state machine and recording with
// webhooks.
package delivery
