package herald

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers branch on. The HTTP layer maps each to one status.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable means a dependency (the database) is not answering;
	// the caller may retry.
	ErrUnavailable = errors.New("service unavailable")
)

// FieldError names one input field and the rule it breaks.
type FieldError struct {
	Field  string // JSON name or path of the field, e.g. "url" or "roles[1]"
	Rule   string // short machine token: "required", "format", "enum", ...
	Detail string // a sentence for people
	// Pointer, when set, is an RFC 6901 JSON Pointer into the JSON document
	// the field holds (a schema), so a form can show the error at its
	// place in the document; nil when the error has no such place ("" is
	// the document's root).
	Pointer *string
	// Line and Column, when not 0, place the error in the text the field
	// holds (a connector's code), counting from 1.
	Line, Column int
}

// ValidationError reports bad input: one or more fields and the rules they
// break. Nothing was changed.
type ValidationError struct {
	Errors []FieldError
}

// InvalidAtLine builds a ValidationError for one field whose text is wrong
// at a line and column.
func InvalidAtLine(field, rule string, line, column int, format string, args ...any) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Field: field, Rule: rule, Line: line, Column: column,
		Detail: fmt.Sprintf(format, args...)}}}
}

// Invalid builds a ValidationError for one field.
func Invalid(field, rule, format string, args ...any) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Field: field, Rule: rule, Detail: fmt.Sprintf(format, args...)}}}
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, fe := range e.Errors {
		parts = append(parts, fmt.Sprintf("%s: %s", fe.Field, fe.Detail))
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add appends a field error.
func (e *ValidationError) Add(field, rule, format string, args ...any) {
	e.Errors = append(e.Errors, FieldError{Field: field, Rule: rule, Detail: fmt.Sprintf(format, args...)})
}

// AddAt appends a field error about the place pointer inside the JSON
// document the field holds.
func (e *ValidationError) AddAt(field, pointer, rule, format string, args ...any) {
	e.Errors = append(e.Errors, FieldError{Field: field, Rule: rule, Pointer: &pointer, Detail: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds errors and nil otherwise, so a validator can
// collect and return in one line.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Errors) == 0 {
		return nil
	}
	return e
}

// ForbiddenError says why an authenticated caller may not do something.
type ForbiddenError struct{ Reason string }

func (e *ForbiddenError) Error() string { return "forbidden: " + e.Reason }

// Unwrap lets errors.Is(err, ErrForbidden) match.
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// Forbidden builds a ForbiddenError.
func Forbidden(format string, args ...any) error {
	return &ForbiddenError{Reason: fmt.Sprintf(format, args...)}
}

// NotFoundError names what was not found.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// Unwrap lets errors.Is(err, ErrNotFound) match.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// NotFound builds a NotFoundError.
func NotFound(format string, args ...any) error {
	return &NotFoundError{What: fmt.Sprintf(format, args...)}
}

// ConflictError says what clashes. Field and Rule, when set, name the
// input and the rule the current state refuses it by, as in a
// ValidationError.
type ConflictError struct {
	Reason string
	Field  string
	Rule   string
}

func (e *ConflictError) Error() string { return "conflict: " + e.Reason }

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Conflict builds a ConflictError.
func Conflict(format string, args ...any) error {
	return &ConflictError{Reason: fmt.Sprintf(format, args...)}
}

// ConflictRule builds a ConflictError that names the field and the rule.
func ConflictRule(field, rule, format string, args ...any) error {
	return &ConflictError{Reason: fmt.Sprintf(format, args...), Field: field, Rule: rule}
}

// InstanceNotFound is the error of a call on a consumer group instance that
// expired (idle too long), was deleted or never existed: the client has to
// create a new instance.
func InstanceNotFound(id string) error {
	return NotFound("consumer group instance %q (it expired after being idle, was deleted or never existed; "+
		"create a new instance with POST /v1/consumer-groups/{name}/instances) was", id)
}
