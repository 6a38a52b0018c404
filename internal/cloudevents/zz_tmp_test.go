package cloudevents

import "testing"

func TestZZDump(t *testing.T) {
	for _, tc := range invalidCases() {
		_, err := Parse(newRequest(tc.ct, []byte(tc.body), tc.headers...), Limits{})
		if ve, ok := err.(*ValidationError); ok {
			for _, p := range ve.Problems {
				t.Logf("%-40s %s", tc.name, p.String())
			}
		}
	}
}
