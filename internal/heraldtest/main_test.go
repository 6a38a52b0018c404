package heraldtest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/heraldtest"
)

func TestMain(m *testing.M) {
	os.Exit(heraldtest.Main(m, migrate))
}

// migrate stands in for Herald's migrations: a table, and a row every copy
// of the template must start with.
func migrate(ctx context.Context, connString string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// Main requires migrate to close its connections.
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE TABLE items (id bigserial PRIMARY KEY, owner text NOT NULL);
		INSERT INTO items (owner) VALUES ('seed');`)
	if err != nil {
		return fmt.Errorf("create items: %w", err)
	}
	return nil
}
