// Package pglocal runs a private PostgreSQL server from the PostgreSQL
// binaries installed on the machine.
//
// Herald stores everything in PostgreSQL. Asking every user to provision a
// database before trying Herald (and every developer before running the
// tests) is a real barrier, so `herald serve` can instead own a cluster in a
// data directory of its own, and the test helpers in internal/heraldtest use
// the same code to get a throwaway cluster per test binary.
//
// The server is started as a child process of Herald rather than through
// `pg_ctl start`: pg_ctl daemonizes the server, which then outlives a crashed
// or killed Herald and keeps the data directory locked. As a child, the
// server is tied to Herald's lifetime (on Linux through the parent-death
// signal), its log is forwarded to Herald's logger, and Herald decides when it
// shuts down.
//
// The server listens only on a Unix socket in a private directory, so the
// "trust" authentication configured by initdb is reachable only by Herald
// (and root). PostgreSQL refuses to run as root; when Herald runs as root the
// server runs as the unprivileged "postgres" user instead.
package pglocal
