package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/coordinator/store"
)

// queueCollector reads, at each scrape, the depths an operator watches:
// the outbox, the submissions in each status and the age of the oldest in
// each non-final one, the JetStream streams and the lag and redeliveries
// of their consumers. A scrape that cannot read them in scrapeTimeout
// reports vsc_queue_scrape_ok 0 instead.
type queueCollector struct {
	s                                    *Server
	outbox, statusCount, statusOldest    *prometheus.Desc
	streamMsgs, consumerPending, ackPend *prometheus.Desc
	redelivered, scrapeOK                *prometheus.Desc
}

const scrapeTimeout = 2 * time.Second

// allStatuses are the statuses the gauges always show.
var allStatuses = []coordinator.Status{coordinator.Received, coordinator.Verifying, coordinator.Voting, coordinator.Certified,
	coordinator.Anchored, coordinator.Minted, coordinator.Rejected, coordinator.Failed, coordinator.Claimed, coordinator.Challenged,
	coordinator.Finalized, coordinator.Overturned}

func newQueueCollector(s *Server) *queueCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &queueCollector{s: s,
		outbox:          d("vsc_outbox_rows", "Outbox rows (jobs and vote requests) not yet published to NATS."),
		statusCount:     d("vsc_submissions_in_status", "Submissions now in each status.", "status"),
		statusOldest:    d("vsc_submission_status_oldest_seconds", "How long the oldest submission in each non-final status has been in it.", "status"),
		streamMsgs:      d("vsc_stream_messages", "Messages in each vsc JetStream stream (work queues: jobs and results not yet acked).", "stream"),
		consumerPending: d("vsc_consumer_pending", "Messages a durable consumer has not been delivered yet (its lag).", "stream", "consumer"),
		ackPend:         d("vsc_consumer_ack_pending", "Messages delivered to a consumer and not yet acked.", "stream", "consumer"),
		redelivered:     d("vsc_consumer_redelivered", "Messages a consumer has been given more than once and not yet acked.", "stream", "consumer"),
		scrapeOK:        d("vsc_queue_scrape_ok", "1 if the last scrape read PostgreSQL and NATS, else 0."),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.outbox, c.statusCount, c.statusOldest, c.streamMsgs, c.consumerPending, c.ackPend, c.redelivered, c.scrapeOK} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ok := 1.0
	if c.s.store != nil {
		outbox, statuses, err := c.s.store.QueueStats(ctx)
		if err != nil {
			ok = 0
		}
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(outbox))
		byStatus := map[coordinator.Status]store.StatusStat{}
		for _, st := range statuses {
			byStatus[coordinator.Status(st.Status)] = st
		}
		for _, status := range allStatuses { // every status, 0 when none is in it
			st := byStatus[status]
			ch <- prometheus.MustNewConstMetric(c.statusCount, prometheus.GaugeValue, float64(st.Count), string(status))
			if !status.Final() {
				ch <- prometheus.MustNewConstMetric(c.statusOldest, prometheus.GaugeValue, st.Oldest.Seconds(), string(status))
			}
		}
	}
	if c.s.bus != nil {
		streams, consumers, err := c.s.bus.QueueStats(ctx)
		if err != nil {
			ok = 0
		}
		for _, st := range streams {
			ch <- prometheus.MustNewConstMetric(c.streamMsgs, prometheus.GaugeValue, float64(st.Msgs), st.Stream)
		}
		for _, cs := range consumers {
			ch <- prometheus.MustNewConstMetric(c.consumerPending, prometheus.GaugeValue, float64(cs.Pending), cs.Stream, cs.Consumer)
			ch <- prometheus.MustNewConstMetric(c.ackPend, prometheus.GaugeValue, float64(cs.AckPending), cs.Stream, cs.Consumer)
			ch <- prometheus.MustNewConstMetric(c.redelivered, prometheus.GaugeValue, float64(cs.Redelivered), cs.Stream, cs.Consumer)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeOK, prometheus.GaugeValue, ok)
}
