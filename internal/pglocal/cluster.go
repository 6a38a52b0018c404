package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// Port is the port number of the server. It only names the socket
	// file (.s.PGSQL.5432): the server listens on no TCP port, and each
	// cluster has its own socket directory, so clusters never collide.
	Port = 5432

	// User is the superuser created by initdb; Herald connects as it.
	User = "herald"

	// Database is the database Start creates for Herald if it is missing.
	Database = "herald"

	// DefaultRunAs is the account the server runs as when Herald runs as
	// root. It exists wherever the PostgreSQL packages are installed.
	DefaultRunAs = "postgres"

	defaultMaxConnections = 200
	defaultStopTimeout    = 30 * time.Second
)

// Options configures Start.
type Options struct {
	// DataDir holds the cluster. It is created (with initdb) when missing
	// or empty, and reused when it already holds a cluster, so data
	// survives restarts and crashes of Herald.
	DataDir string

	// Durable keeps PostgreSQL's crash-safe defaults; `herald serve` sets
	// it. When false (tests), fsync, synchronous_commit and
	// full_page_writes are turned off for speed: an operating-system crash
	// can then corrupt the cluster, and even a server crash loses the last
	// few hundred milliseconds of commits.
	Durable bool

	// Logger receives the server's log and lifecycle messages. Nil
	// discards them.
	Logger *slog.Logger

	// BinDir is the directory holding initdb and postgres (cmd fills it
	// from HERALD_PG_BIN). When empty, PATH is searched, then
	// /usr/lib/postgresql/*/bin.
	BinDir string

	// MaxConnections is the server's max_connections; 0 means 200.
	MaxConnections int

	// SharedBuffers is the server's shared_buffers, e.g. "256MB"; empty
	// keeps PostgreSQL's default (128MB).
	SharedBuffers string

	// Settings are extra server settings passed as -c name=value. They
	// are applied last, so they override everything above.
	Settings map[string]string

	// RunAs is the account the server runs as when Herald runs as root
	// (PostgreSQL refuses to run as root); empty means "postgres". It is
	// ignored when Herald does not run as root: the server then runs as
	// the current user.
	RunAs string

	// StopTimeout bounds the fast shutdown in Stop before the server is
	// shut down forcefully; 0 means 30 seconds.
	StopTimeout time.Duration

	// Supervise restarts the server whenever it exits on its own (a crash,
	// the kernel's out-of-memory killer, an operator's kill), with backoff,
	// until Stop; see Health. `herald serve` sets it: a Herald whose
	// database is gone can do nothing useful, and restarting the server
	// (PostgreSQL then runs crash recovery from its WAL) is what an operator
	// would do by hand.
	Supervise bool

	// SocketDir is the folder of the server's Unix socket. It is created
	// (mode 0700, owned by the server's account) when missing and kept by
	// Stop, so a client's connection string stays valid across a stop and a
	// new Start. Empty: a private folder made for this server under the
	// temporary folder, removed by Stop.
	SocketDir string
}

// Cluster is a running PostgreSQL server owned by this process.
type Cluster struct {
	opts      Options
	logger    *slog.Logger
	bins      binaries
	major     string
	dataDir   string
	socketDir string
	acct      *account
	env       []string
	log       *serverLog
	// ownSocketDir is true when the socket folder was made for this
	// server (and is removed by Stop).
	ownSocketDir bool

	// mu guards proc and health: the supervisor replaces the process when
	// it restarts the server.
	mu     sync.Mutex
	proc   *process
	health Health

	// stopping is closed when Stop begins; supervised is closed when the
	// supervisor has returned (nil when not supervised).
	stopping   chan struct{}
	supervised chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// account is the unprivileged user the server runs as when Herald runs as
// root. A nil *account means "the current user, no switching".
type account struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32 // supplementary groups, for permission checks and setgroups
	home   string
}

// Start runs a PostgreSQL server for opts.DataDir, initialising the cluster
// first if needed, waits until it accepts connections (bounded by ctx) and
// makes sure the database "herald" exists. The server runs until Stop is
// called or this process exits.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if platformErr != nil {
		return nil, fmt.Errorf("start postgres: %w", platformErr)
	}
	if opts.DataDir == "" {
		return nil, errors.New("start postgres: no data directory given")
	}
	base := opts.Logger
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}
	logger := base.With("component", "pglocal")
	if opts.RunAs == "" {
		opts.RunAs = DefaultRunAs
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = defaultMaxConnections
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = defaultStopTimeout
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("start postgres: data directory: %w", err)
	}

	acct, err := serverAccount(opts.RunAs)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	// An existing cluster can only be run by binaries of the major
	// version that created it, so prefer that installation if present.
	existing, err := readPGVersion(dataDir)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	bins, err := findBinaries(opts.BinDir, existing)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	major, err := serverMajor(ctx, bins.postgres)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if existing != "" && existing != major {
		return nil, fmt.Errorf("start postgres: data directory %s was created by PostgreSQL %s but the binaries in %s are PostgreSQL %s: install PostgreSQL %s and point HERALD_PG_BIN at its bin directory, or upgrade the cluster with pg_upgrade",
			dataDir, existing, bins.dir, major, existing)
	}

	fresh, err := prepareDataDir(dataDir, acct)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	c := &Cluster{
		opts:    opts,
		logger:  logger,
		bins:    bins,
		major:   major,
		dataDir: dataDir,
		acct:    acct,
		env:     serverEnv(acct),
		log:     &serverLog{logger: base}, // tags lines component=postgres
	}
	if fresh {
		if err := c.initdb(ctx); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}
	if err := c.clearStaleLock(ctx); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c.stopping = make(chan struct{})
	if opts.SocketDir != "" {
		c.socketDir, err = filepath.Abs(opts.SocketDir)
		if err == nil {
			err = ensureSocketDir(c.socketDir, acct)
		}
	} else {
		c.socketDir, err = makeSocketDir(acct)
		c.ownSocketDir = true
	}
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	began := time.Now()
	if err := c.launchAndWait(ctx); err != nil {
		c.removeSocketDir()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := c.ensureDatabase(ctx); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	logger.Info("PostgreSQL ready",
		"version", major, "data_dir", dataDir, "socket_dir", c.socketDir,
		"pid", c.PID(), "durable", opts.Durable, "took", time.Since(began).Round(time.Millisecond))
	c.health = Health{State: StateRunning, Since: time.Now()}
	if opts.Supervise {
		c.supervised = make(chan struct{})
		go c.supervise()
	}
	return c, nil
}

// ConnString returns a keyword/value connection string for database dbname,
// usable by pgx and libpq. Connections go through the Unix socket and need
// no password.
func (c *Cluster) ConnString(dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
		quoteConnValue(c.socketDir), Port, quoteConnValue(User), quoteConnValue(dbname))
}

// SocketDir returns the directory holding the server's Unix socket.
func (c *Cluster) SocketDir() string { return c.socketDir }

// Version returns the server's major version, e.g. "15".
func (c *Cluster) Version() string { return c.major }

// PID returns the process id of the server (the postmaster) now running,
// or of the last one when none is.
func (c *Cluster) PID() int { return c.current().pid }

// Done returns a channel that is closed when the server process now running
// has exited, whether through Stop or on its own. A supervised cluster
// starts a new process after that (see Health).
func (c *Cluster) Done() <-chan struct{} { return c.current().done }

func (c *Cluster) current() *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc
}

func (c *Cluster) setProc(p *process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proc = p
}

// Stop shuts the server down and waits for it to exit: a fast shutdown
// (SIGINT: sessions are disconnected, then a checkpoint is written), then,
// if that takes longer than Options.StopTimeout, an immediate shutdown
// (SIGQUIT) and finally SIGKILL. It removes the socket directory. Stop is
// safe to call more than once and concurrently; later calls return the
// first call's result. It reports an error if the server had already
// exited on its own or had to be stopped forcefully.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.shutdown() })
	return c.stopErr
}

func (c *Cluster) shutdown() error {
	close(c.stopping)
	if c.supervised != nil {
		// A restart in progress ends (and stops what it started) first.
		<-c.supervised
	}
	p := c.current()
	var err error
	select {
	case <-p.done:
		err = fmt.Errorf("stop postgres: server had already exited (%v); last server log lines:\n%s", p.err, c.tailAfterExit(p))
	default:
		err = c.terminate(p)
	}
	c.waitLog(p)
	err = errors.Join(err, c.removeSocketDir())
	c.mu.Lock()
	c.health = Health{State: StateStopped, Since: time.Now(), Restarts: c.health.Restarts}
	c.mu.Unlock()
	if err == nil {
		c.logger.Info("PostgreSQL stopped", "data_dir", c.dataDir)
	}
	return err
}

// removeSocketDir removes the socket folder if it was made for this server.
func (c *Cluster) removeSocketDir() error {
	if !c.ownSocketDir {
		return nil
	}
	if err := os.RemoveAll(c.socketDir); err != nil {
		return fmt.Errorf("stop postgres: remove socket directory: %w", err)
	}
	return nil
}

// initdb creates the cluster in the (empty) data directory.
func (c *Cluster) initdb(ctx context.Context) error {
	c.logger.Info("initialising PostgreSQL cluster", "data_dir", c.dataDir, "version", c.major, "binaries", c.bins.dir)
	began := time.Now()
	args := []string{
		"-D", c.dataDir,
		"-U", User,
		// Trust is safe only because the server listens on nothing but
		// a socket in a folder only its own account (and root) can enter.
		"--auth=trust",
		"-E", "UTF8",
		// The C locale sorts byte-wise, is available everywhere and
		// never changes with the operating system's locale data, which
		// would silently corrupt indexes on text.
		"--locale=C",
	}
	if !c.opts.Durable {
		// Skipping the final sync saves most of initdb's time; a
		// throwaway test cluster does not need to survive a power cut.
		args = append(args, "-N")
	}
	if majorAtLeast(c.major, 14) {
		args = append(args, "--no-instructions")
	}
	cmd := exec.CommandContext(ctx, c.bins.initdb, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.Dir = c.dataDir
	cmd.Env = c.env
	cmd.SysProcAttr = sysProcAttr(c.acct)
	p, err := startLocked(cmd)
	if err == nil {
		<-p.done
		err = p.err
	}
	if err != nil {
		// Leave an empty folder, not a half-made cluster that the next
		// start would mistake for a real one.
		if rmErr := removeContents(c.dataDir); rmErr != nil {
			c.logger.Warn("could not clean up after failed initdb", "data_dir", c.dataDir, "error", rmErr)
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("initdb %s: %w\n%s", c.dataDir, err, strings.TrimSpace(out.String()))
	}
	c.logger.Debug("initdb finished", "took", time.Since(began).Round(time.Millisecond), "output", strings.TrimSpace(out.String()))
	return nil
}

// ensureDatabase creates the database Herald uses if it does not exist yet.
func (c *Cluster) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("connect to new server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", Database).Scan(&exists)
	if err != nil {
		return fmt.Errorf("look up database %s: %w", Database, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: fine
		err = nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", Database, err)
	}
	c.logger.Info("created database", "database", Database)
	return nil
}

// serverEnv is the environment of initdb and postgres: Herald's, without
// libpq variables (PGPORT and friends change server defaults) and locale
// variables (a locale that is not installed makes initdb fail, and English
// messages keep the logs greppable). When switching users, the identity
// variables follow the new user.
func serverEnv(a *account) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PG"), strings.HasPrefix(k, "LC_"), k == "LANG", k == "LANGUAGE":
			continue
		case a != nil && (k == "HOME" || k == "USER" || k == "LOGNAME"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C")
	if a != nil {
		env = append(env, "HOME="+a.home, "USER="+a.name, "LOGNAME="+a.name)
	}
	return env
}

// removeContents empties dir, keeping dir itself (it may be a mount point).
func removeContents(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// quoteConnValue quotes a keyword/value connection string value when needed
// (empty, or containing spaces, quotes or backslashes).
func quoteConnValue(s string) string {
	if s != "" && !strings.ContainsAny(s, ` '\`+"\t\n\r") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}
