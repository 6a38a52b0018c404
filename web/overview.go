package web

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

type statsCountsWire struct {
	EventsIn          int64 `json:"events_in"`
	AttemptsSucceeded int64 `json:"attempts_succeeded"`
	AttemptsFailed    int64 `json:"attempts_failed"`
}

type statsWire struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Bucket string    `json:"bucket"`
	Series []struct {
		At time.Time `json:"at"`
		statsCountsWire
	} `json:"series"`
	Totals  statsCountsWire `json:"totals"`
	Backlog struct {
		PendingDeliveries       int64      `json:"pending_deliveries"`
		PendingDeliveriesCapped bool       `json:"pending_deliveries_capped"`
		OldestPendingAt         *time.Time `json:"oldest_pending_at"`
	} `json:"backlog"`
	FailingEndpoints []struct {
		ID                string    `json:"id"`
		URL               string    `json:"url"`
		Status            string    `json:"status"`
		AttemptsFailed    int64     `json:"attempts_failed"`
		AttemptsSucceeded int64     `json:"attempts_succeeded"`
		LastFailedAt      time.Time `json:"last_failed_at"`
		LastStatusCode    int       `json:"last_status_code"`
		LastError         string    `json:"last_error"`
	} `json:"failing_endpoints"`
}

// windows are the overview's choices: the window and its bucket. Only the
// last hour for now: counting is from the indexes, and a busy tenant's 6
// hours (250,000 events and as many attempts) take 150-200 ms to count,
// a page's whole budget (docs/benchmarks.md). Longer windows wait for
// counters rolled up per minute.
var windows = []struct{ Window, Bucket, Label string }{
	{"1h", "1m", "last hour"},
}

// chart is a bar chart drawn as SVG on the server: no script needed.
type chart struct {
	Title string
	Label string // for screen readers: what the chart sums up to
	Max   int64
	Bars  []bar
}

// bar is one bucket: its stacked parts, bottom first.
type bar struct {
	X, W  float64
	Parts []barPart
	Title string
}

type barPart struct {
	Y, H  float64
	Class string
}

// chartWidth and chartHeight are the SVG's own units; CSS scales it.
const (
	chartWidth  = 600.0
	chartHeight = 120.0
)

// barChart draws one bar per bucket, each value a stacked part with its
// class.
func barChart(title string, at []time.Time, values [][]int64, classes, names []string) chart {
	c := chart{Title: title}
	var total int64
	for _, vs := range values {
		var sum int64
		for _, v := range vs {
			sum += v
		}
		c.Max = max(c.Max, sum)
		total += sum
	}
	c.Label = fmt.Sprintf("%s: %d in all, at most %d in one bar", title, total, c.Max)
	if len(values) == 0 {
		return c
	}
	w := chartWidth / float64(len(values))
	for i, vs := range values {
		b := bar{X: float64(i) * w, W: max(w-1, 1)}
		base := chartHeight
		tip := at[i].UTC().Format("15:04 UTC")
		for j, v := range vs {
			tip += fmt.Sprintf(", %d %s", v, names[j])
			if v == 0 || c.Max == 0 {
				continue
			}
			h := float64(v) / float64(c.Max) * (chartHeight - 4)
			base -= h
			b.Parts = append(b.Parts, barPart{Y: base, H: h, Class: classes[j]})
		}
		b.Title = tip
		c.Bars = append(c.Bars, b)
	}
	return c
}

// overviewPage is the console's home.
type overviewPage struct {
	// Tenant is the tenant a platform admin chose on the tenants page
	// ("": the caller's own); its name is shown.
	Tenant     string
	TenantName string
	Window     string
	Label      string
	Windows    []struct{ Window, Bucket, Label string }
	Stats      statsWire
	Events     chart
	Out        chart
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) error {
	p := overviewPage{Windows: windows, Window: windows[0].Window, Label: windows[0].Label}
	bucket := windows[0].Bucket
	for _, win := range windows {
		if win.Window == r.URL.Query().Get("window") {
			p.Window, bucket, p.Label = win.Window, win.Bucket, win.Label
		}
	}
	// The API decides who may read which tenant's numbers (platform
	// admins any, others their own).
	p.Tenant = r.URL.Query().Get("tenant")
	if err := h.get(r.Context(), "/v1/stats", url.Values{"window": {p.Window}, "bucket": {bucket}, "tenant": {p.Tenant}}, &p.Stats); err != nil {
		return err
	}
	if p.Tenant != "" {
		var t tenantWire
		if err := h.get(r.Context(), "/v1/tenants/"+url.PathEscape(p.Tenant), nil, &t); err != nil {
			return err
		}
		p.TenantName = t.Name
	}
	at := make([]time.Time, len(p.Stats.Series))
	in := make([][]int64, len(p.Stats.Series))
	out := make([][]int64, len(p.Stats.Series))
	for i, s := range p.Stats.Series {
		at[i] = s.At
		in[i] = []int64{s.EventsIn}
		out[i] = []int64{s.AttemptsSucceeded, s.AttemptsFailed}
	}
	p.Events = barChart("Events in per "+p.Stats.Bucket, at, in, []string{"in"}, []string{"events"})
	p.Out = barChart("Delivery attempts per "+p.Stats.Bucket, at, out, []string{"ok", "bad"}, []string{"succeeded", "failed"})
	h.render(w, r, http.StatusOK, "console/overview", view{Title: "Overview", Section: "overview", Data: p})
	return nil
}
