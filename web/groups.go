package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type groupPartitionWire struct {
	Partition int    `json:"partition"`
	AckedUpto string `json:"acked_upto"`
	Last      string `json:"last"`
	Lag       int64  `json:"lag"`
	LagExact  bool   `json:"lag_exact"`
}

type groupWire struct {
	Name       string               `json:"name"`
	Types      []string             `json:"types"`
	AckWait    string               `json:"ack_wait"`
	Partitions []groupPartitionWire `json:"partitions"`
	CreatedAt  time.Time            `json:"created_at"`
}

// Lag is the group's lag over its partitions, and whether every count
// was exact.
func (g groupWire) Lag() (int64, bool) {
	var n int64
	exact := true
	for _, p := range g.Partitions {
		n += p.Lag
		exact = exact && p.LagExact
	}
	return n, exact
}

// TotalLag is Lag's count, for templates.
func (g groupWire) TotalLag() int64 { n, _ := g.Lag(); return n }

// LagExact is Lag's exactness, for templates.
func (g groupWire) LagExact() bool { _, e := g.Lag(); return e }

// groupsPage lists one consumer client's groups.
type groupsPage struct {
	Consumers []clientWire
	Client    string
	Groups    []groupWire
}

func (h *Handler) groupList(w http.ResponseWriter, r *http.Request) error {
	var cs listOf[clientWire]
	if err := h.get(r.Context(), "/v1/clients", url.Values{"limit": {strconv.Itoa(pickerSize)}}, &cs); err != nil {
		return err
	}
	p := groupsPage{Client: r.URL.Query().Get("client")}
	for _, c := range cs.Data {
		if strings.Contains(","+strings.Join(c.Roles, ",")+",", ",consumer,") {
			p.Consumers = append(p.Consumers, c)
		}
	}
	if p.Client == "" && len(p.Consumers) > 0 {
		p.Client = p.Consumers[0].ID
	}
	if p.Client != "" {
		var gs listOf[groupWire]
		if err := h.get(r.Context(), "/v1/consumer-groups", url.Values{"client": {p.Client}}, &gs); err != nil {
			return err
		}
		p.Groups = gs.Data
	}
	h.render(w, r, http.StatusOK, "console/groups", view{Title: "Consumer groups", Section: "groups", Data: p})
	return nil
}
