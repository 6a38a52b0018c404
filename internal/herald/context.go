package herald

import "context"

type principalKey struct{}

// ContextWithPrincipal returns ctx carrying the authenticated caller. The
// HTTP layer sets it once it has checked a request's credentials, so every
// handler behind it (the Integration API's management routes included)
// reads the caller the same way.
func ContextWithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller ContextWithPrincipal put in ctx, or the
// zero Principal (no client) when there is none.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
