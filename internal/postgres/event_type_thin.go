package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/heraldhq/herald/internal/herald"
)

// eventTypeThinPut stores (or clears, when t.Thin is nil) a type's thin
// delivery settings, inside the transaction that writes the type.
func eventTypeThinPut(ctx context.Context, db DBTX, t *herald.EventType) error {
	if t.Thin == nil {
		if _, err := db.Exec(ctx, `DELETE FROM event_type_thin WHERE type_name = $1`, t.Name); err != nil {
			return fmt.Errorf("put event type %s: thin: %w", t.Name, err)
		}
		return nil
	}
	fields := t.Thin.Fields
	if fields == nil {
		fields = []string{}
	}
	_, err := db.Exec(ctx, `INSERT INTO event_type_thin (type_name, fields, keep_for, after_first_read)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (type_name) DO UPDATE SET fields = EXCLUDED.fields, keep_for = EXCLUDED.keep_for,
			after_first_read = EXCLUDED.after_first_read
		WHERE (event_type_thin.fields, event_type_thin.keep_for, event_type_thin.after_first_read)
			IS DISTINCT FROM (EXCLUDED.fields, EXCLUDED.keep_for, EXCLUDED.after_first_read)`,
		t.Name, fields, t.Thin.Keep, t.Thin.AfterFirstRead)
	if err != nil {
		return fmt.Errorf("put event type %s: thin: %w", t.Name, err)
	}
	return nil
}

// eventTypeThinFill reads the thin delivery settings of the given types.
func eventTypeThinFill(ctx context.Context, db DBTX, types ...*herald.EventType) error {
	if len(types) == 0 {
		return nil
	}
	byName := make(map[string]*herald.EventType, len(types))
	names := make([]string, 0, len(types))
	for _, t := range types {
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	rows, err := db.Query(ctx, `SELECT type_name, fields, keep_for, after_first_read FROM event_type_thin
		WHERE type_name = ANY($1)`, names)
	if err != nil {
		return fmt.Errorf("read thin settings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var fields []string
		var keep, after pgtype.Interval
		if err := rows.Scan(&name, &fields, &keep, &after); err != nil {
			return fmt.Errorf("read thin settings: %w", err)
		}
		if t := byName[name]; t != nil {
			t.Thin = &herald.ThinDelivery{Fields: fields, Keep: intervalDuration(keep), AfterFirstRead: intervalDuration(after)}
		}
	}
	return rows.Err()
}

// intervalDuration converts an interval Herald wrote from a Go duration.
func intervalDuration(iv pgtype.Interval) time.Duration {
	return time.Duration(iv.Microseconds)*time.Microsecond +
		time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Months)*30*24*time.Hour
}
