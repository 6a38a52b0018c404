package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/heraldhq/herald/webhook"
)

// The delivery worker's loop for one message and endpoint: send, record the
// Result, and ask the schedule when to try again.
func Example() {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer receiver.Close()

	secret, err := webhook.NewSecret()
	if err != nil {
		panic(err)
	}
	// Loopback receivers are only reachable with private targets allowed.
	sender := webhook.NewSender(webhook.SenderConfig{Policy: webhook.TargetPolicy{AllowPrivate: true}})
	defer sender.Close()

	res := sender.Send(context.Background(), webhook.Message{
		URL:     receiver.URL,
		ID:      "msg_2Yb7l0Q9mBXJ3wq6r5p1KzVhT0e",
		Body:    []byte(`{"type":"order.created"}`),
		Secrets: []string{secret},
	})
	fmt.Println("status:", res.StatusCode, "success:", res.Success())

	// One attempt has failed. The schedule says retry at once, but the
	// receiver asked for two minutes, which wins.
	delay, ok := webhook.DefaultRetrySchedule.Next(1, res, nil)
	fmt.Println("retry:", ok, "in", delay)

	// Endpoint creation rejects internal targets before anything is sent.
	fmt.Println(webhook.TargetPolicy{}.CheckURL("http://169.254.169.254/latest/meta-data"))

	// Output:
	// status: 503 success: false
	// retry: true in 2m0s
	// webhook target address is not allowed: 169.254.169.254 is in blocked range 169.254.0.0/16 (link-local, cloud metadata)
}
