package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/heraldhq/herald/internal/pglocal"
)

// fallbackPGRoot holds embedded clusters whose data folder the PostgreSQL
// user cannot reach (Herald run as root from a private home directory).
const fallbackPGRoot = "/var/lib/herald"

// StartPostgres starts Herald's own durable PostgreSQL under dataDir. When
// Herald runs as root from a folder the unprivileged PostgreSQL user cannot
// enter (a clone under /root, say), the cluster's files go to a folder of
// their own under /var/lib/herald instead, named after the data dir, so the
// default command still works; the log says where.
func StartPostgres(ctx context.Context, dataDir, binDir string, logger *slog.Logger) (*pglocal.Cluster, error) {
	opts := pglocal.Options{
		DataDir: filepath.Join(dataDir, "postgres"), Durable: true, Logger: logger, BinDir: binDir,
		// If the server dies, Herald restarts it and carries on.
		Supervise: true,
		// Sizing for a write-heavy event log; none of it weakens durability.
		// Fewer checkpoints mean fewer full-page images in the WAL.
		SharedBuffers: "512MB",
		Settings:      map[string]string{"max_wal_size": "4GB", "checkpoint_timeout": "15min"},
	}
	c, err := pglocal.Start(ctx, opts)
	if errors.Is(err, pglocal.ErrDirNotReachable) && os.Geteuid() == 0 {
		abs, aerr := filepath.Abs(opts.DataDir)
		if aerr != nil {
			return nil, fmt.Errorf("start embedded postgres: %w", err)
		}
		sum := sha256.Sum256([]byte(abs))
		alt := filepath.Join(fallbackPGRoot, "postgres-"+hex.EncodeToString(sum[:6]))
		logger.Warn("the PostgreSQL user cannot reach the data dir; keeping the cluster's files elsewhere",
			"data_dir", opts.DataDir, "cluster_dir", alt)
		opts.DataDir = alt
		c, err = pglocal.Start(ctx, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("start embedded postgres: %w", err)
	}
	logger.Info("started PostgreSQL", "cluster_dir", opts.DataDir, "version", c.Version())
	return c, nil
}
