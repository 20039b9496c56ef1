package member

import "github.com/prometheus/client_golang/prometheus"

// WithMetrics registers the member's metrics with reg:
// vsc_member_vote_requests_total{outcome="signed|ask_again|not_answered"}
// and vsc_member_vote_batches_total (signed batches sent).
func (m *Member) WithMetrics(reg prometheus.Registerer) *Member {
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vsc_member_vote_requests_total", Help: "Vote requests this member handled, by outcome."}, []string{"outcome"})
	m.batches = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vsc_member_vote_batches_total", Help: "Signed vote batches this member sent."})
	reg.MustRegister(m.requests, m.batches)
	for _, o := range []string{"signed", "ask_again", "not_answered"} {
		m.requests.WithLabelValues(o)
	}
	return m
}

func (m *Member) count(outcome string) {
	if m.requests != nil {
		m.requests.WithLabelValues(outcome).Inc()
	}
}

func (m *Member) countBatch() {
	if m.batches != nil {
		m.batches.Inc()
	}
}
