package outbound

import (
	"crypto"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// ids lists the ids of keys in order.
func ids(keys []*SigningKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

// jwksIDs lists the kids of a JWKS document in order.
func jwksIDs(t *testing.T, doc []byte) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, doc)
	}
	out := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		out[i] = k.Kid
	}
	return out
}

func TestJWKSHasOnlyPublicMembers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cur := mustKey(t, ES256)
	prev := mustKey(t, EdDSA)
	prev.NotAfter = clock.Now().Add(time.Hour)
	r := NewKeyRing(cur, prev)
	r.Now = clock.Now
	doc := r.JWKS()

	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2: %s", len(raw.Keys), doc)
	}
	wantMembers := map[string][]string{
		"EC":  {"alg", "crv", "kid", "kty", "use", "x", "y"},
		"OKP": {"alg", "crv", "kid", "kty", "use", "x"},
	}
	for _, k := range raw.Keys {
		if _, ok := k["d"]; ok {
			t.Errorf("JWKS key %v has private member d", k["kid"])
		}
		var members []string
		for name := range k {
			members = append(members, name)
		}
		slices.Sort(members)
		kty, _ := k["kty"].(string)
		if !slices.Equal(members, wantMembers[kty]) {
			t.Errorf("key %v (kty %q) has members %v, want %v", k["kid"], kty, members, wantMembers[kty])
		}
		if k["use"] != "sig" {
			t.Errorf("key %v: use = %v, want sig", k["kid"], k["use"])
		}
	}

	// The published keys are exactly the ring's public keys.
	keys, err := parseJWKS(doc)
	if err != nil {
		t.Fatalf("parseJWKS: %v", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for _, k := range []*SigningKey{cur, prev} {
		pub, ok := keys[k.ID]
		if !ok {
			t.Errorf("key %s missing from JWKS", k.ID)
			continue
		}
		if !k.Private.Public().(equaler).Equal(pub) {
			t.Errorf("key %s: published public key differs", k.ID)
		}
	}
	if got, want := jwksIDs(t, doc), []string{cur.ID, prev.ID}; !slices.Equal(got, want) {
		t.Errorf("JWKS order %v, want current first %v", got, want)
	}
}

func TestJWKSEmptyRing(t *testing.T) {
	t.Parallel()
	if got := string(NewKeyRing().JWKS()); got != `{"keys":[]}` {
		t.Errorf("JWKS of empty ring = %s, want {\"keys\":[]}", got)
	}
}

func TestJWKSDropsExpiredKeys(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	now := clock.Now()
	cur := mustKey(t, ES256)
	expired := mustKey(t, ES256)
	expired.NotAfter = now.Add(-time.Second)
	retiring := mustKey(t, EdDSA)
	retiring.NotAfter = now.Add(time.Minute)
	r := NewKeyRing(expired, cur, retiring)
	r.Now = clock.Now

	tests := []struct {
		name    string
		advance time.Duration
		want    []string
	}{
		{"now", 0, []string{cur.ID, retiring.ID}},
		{"just before NotAfter", time.Minute - time.Nanosecond, []string{cur.ID, retiring.ID}},
		{"at NotAfter", time.Nanosecond, []string{cur.ID}},
		{"later", time.Hour, []string{cur.ID}},
	}
	for _, tt := range tests { // sequential: each step moves the clock on
		clock.Advance(tt.advance)
		if got := jwksIDs(t, r.JWKS()); !slices.Equal(got, tt.want) {
			t.Errorf("%s: JWKS kids %v, want %v", tt.name, got, tt.want)
		}
		if got := ids(r.Keys()); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Keys %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNewKeyRingPicksCurrent(t *testing.T) {
	t.Parallel()
	base := newFakeClock().Now()
	key := func(id string, created time.Duration, notAfter time.Duration) *SigningKey {
		k := mustKey(t, ES256)
		k.ID = id
		k.Created = base.Add(created)
		if notAfter != 0 {
			k.NotAfter = base.Add(notAfter)
		}
		return k
	}
	older := key("older", -2*time.Hour, 0)
	newer := key("newer", -time.Hour, 0)
	retiringA := key("retiring-a", -3*time.Hour, time.Hour)
	retiringB := key("retiring-b", -4*time.Hour, 2*time.Hour)

	tests := []struct {
		name        string
		keys        []*SigningKey
		wantCurrent string // empty: none
		wantKeys    []string
	}{
		{"single", []*SigningKey{older}, "older", []string{"older"}},
		{"newest unretired wins", []*SigningKey{older, newer}, "newer", []string{"newer", "older"}},
		{"order does not matter", []*SigningKey{newer, retiringA, older}, "newer", []string{"newer", "older", "retiring-a"}},
		{"previous newest first", []*SigningKey{retiringB, retiringA, newer}, "newer", []string{"newer", "retiring-a", "retiring-b"}},
		{"only retiring keys", []*SigningKey{retiringA, retiringB}, "", []string{"retiring-a", "retiring-b"}},
		{"nil keys ignored", []*SigningKey{nil, older, nil}, "older", []string{"older"}},
		{"empty", nil, "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewKeyRing(tt.keys...)
			r.Now = func() time.Time { return base }
			cur := r.Current()
			switch {
			case tt.wantCurrent == "" && cur != nil:
				t.Errorf("Current = %s, want none", cur.ID)
			case tt.wantCurrent != "" && (cur == nil || cur.ID != tt.wantCurrent):
				t.Errorf("Current = %v, want %s", cur, tt.wantCurrent)
			}
			if got := ids(r.Keys()); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("Keys = %v, want %v", got, tt.wantKeys)
			}
			if got := jwksIDs(t, r.JWKS()); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("JWKS kids = %v, want %v", got, tt.wantKeys)
			}
		})
	}
}

func TestRotateRetiresOldKeys(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k1, k2, k3 := mustKey(t, ES256), mustKey(t, ES256), mustKey(t, EdDSA)
	r := NewKeyRing(k1)
	r.Now = clock.Now

	t0 := clock.Now()
	if err := r.Rotate(k2, 10*time.Minute); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	keys := r.Keys()
	if got, want := ids(keys), []string{k2.ID, k1.ID}; !slices.Equal(got, want) {
		t.Fatalf("after first Rotate Keys = %v, want %v", got, want)
	}
	if !keys[0].NotAfter.IsZero() {
		t.Errorf("new current key has NotAfter %v", keys[0].NotAfter)
	}
	if want := t0.Add(10 * time.Minute); !keys[1].NotAfter.Equal(want) {
		t.Errorf("retired key NotAfter = %v, want %v", keys[1].NotAfter, want)
	}

	// A second rotation retires k2 but leaves k1's deadline alone: neither
	// extended (it was promised to go) nor cut short (tokens rely on it).
	clock.Advance(2 * time.Minute)
	if err := r.Rotate(k3, time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	keys = r.Keys()
	if got, want := ids(keys), []string{k3.ID, k2.ID, k1.ID}; !slices.Equal(got, want) {
		t.Fatalf("after second Rotate Keys = %v, want %v", got, want)
	}
	if want := t0.Add(2*time.Minute + time.Hour); !keys[1].NotAfter.Equal(want) {
		t.Errorf("k2 NotAfter = %v, want %v", keys[1].NotAfter, want)
	}
	if want := t0.Add(10 * time.Minute); !keys[2].NotAfter.Equal(want) {
		t.Errorf("k1 NotAfter = %v, want unchanged %v", keys[2].NotAfter, want)
	}

	// The caller's keys were copied, not modified.
	if !k1.NotAfter.IsZero() || !k2.NotAfter.IsZero() {
		t.Error("Rotate modified the caller's SigningKey")
	}

	clock.Advance(10 * time.Minute)
	if got, want := jwksIDs(t, r.JWKS()), []string{k3.ID, k2.ID}; !slices.Equal(got, want) {
		t.Errorf("after k1 expired JWKS = %v, want %v", got, want)
	}
}

func TestRotateWithZeroGraceDropsOldKeyAtOnce(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	k1, k2 := mustKey(t, ES256), mustKey(t, ES256)
	r := NewKeyRing(k1)
	r.Now = clock.Now
	if err := r.Rotate(k2, -time.Minute); err != nil { // negative counts as zero
		t.Fatal(err)
	}
	if got := jwksIDs(t, r.JWKS()); !slices.Equal(got, []string{k2.ID}) {
		t.Errorf("JWKS = %v, want only the new key", got)
	}
}

func TestRotateRefusesBadKeys(t *testing.T) {
	t.Parallel()
	k1 := mustKey(t, ES256)
	tests := []struct {
		name string
		key  *SigningKey
	}{
		{"nil", nil},
		{"invalid", &SigningKey{ID: "x", Alg: EdDSA, Private: k1.Private}},
		{"same id as current", func() *SigningKey { k := *mustKey(t, ES256); k.ID = k1.ID; return &k }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewKeyRing(k1)
			if err := r.Rotate(tt.key, time.Hour); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Rotate error = %v, want ErrInvalidKey", err)
			}
			if got := ids(r.Keys()); !slices.Equal(got, []string{k1.ID}) || !r.Current().NotAfter.IsZero() {
				t.Errorf("failed Rotate changed the ring: %v", got)
			}
		})
	}
}

func TestKeyRingReturnsCopies(t *testing.T) {
	t.Parallel()
	k := mustKey(t, ES256)
	r := NewKeyRing(k)
	id := k.ID
	k.ID = "changed-by-caller"
	r.Current().ID = "changed-via-Current"
	r.Keys()[0].ID = "changed-via-Keys"
	if got := r.Current().ID; got != id {
		t.Errorf("ring key id = %q, want %q", got, id)
	}
}

func TestKeyRingKeepsInvalidKeysOutOfJWKS(t *testing.T) {
	t.Parallel()
	good := mustKey(t, ES256)
	bad := &SigningKey{ID: "bad", Alg: EdDSA, Private: good.Private, NotAfter: time.Now().Add(time.Hour)}
	r := NewKeyRing(good, bad)
	if got := jwksIDs(t, r.JWKS()); !slices.Equal(got, []string{good.ID}) {
		t.Errorf("JWKS = %v, want only the valid key", got)
	}
	// Keys still returns it: the caller must not lose stored keys because
	// this version of Herald cannot use them.
	if got := ids(r.Keys()); !slices.Equal(got, []string{good.ID, "bad"}) {
		t.Errorf("Keys = %v, want both", got)
	}
}

func TestKeyRingConcurrentUse(t *testing.T) {
	t.Parallel()
	r := NewKeyRing(mustKey(t, ES256))
	iss := &JWTIssuer{Issuer: "https://herald.example", Ring: r}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				switch i % 3 {
				case 0:
					if _, err := iss.Token("https://receiver.example/hook", "evt", "msg"); err != nil {
						t.Error(err)
					}
				case 1:
					if _, err := parseJWKS(r.JWKS()); err != nil {
						t.Error(err)
					}
				default:
					_ = r.Keys()
				}
			}
		})
	}
	for range 5 {
		if err := r.Rotate(mustKey(t, EdDSA), time.Minute); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
