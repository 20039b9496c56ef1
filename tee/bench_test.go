package tee

import (
	"runtime"
	"testing"

	"github.com/vsc-labs/vsc/internal/envelope"
	"github.com/vsc-labs/vsc/internal/records"
	"github.com/vsc-labs/vsc/tee/facts"
)

const benchRecords = 100_000

func BenchmarkDecryptParse(b *testing.B) {
	enc := openSim(b, DefaultSimConfig(testRoot))
	data := csvData(benchRecords, 1)
	s, err := envelope.Seal(data, enc.PublicKey())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(s.Blob)))
	for b.Loop() {
		pt, err := envelope.Open(s.Blob, s.WrappedKey, s.DataHash, enc.key)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := records.Parse(pt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*benchRecords/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDecrypt(b *testing.B) {
	enc := openSim(b, DefaultSimConfig(testRoot))
	s, _ := envelope.Seal(csvData(benchRecords, 1), enc.PublicKey())
	b.SetBytes(int64(len(s.Blob)))
	for b.Loop() {
		if _, err := envelope.Open(s.Blob, s.WrappedKey, s.DataHash, enc.key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitPerCore runs the commitment on one core (GOMAXPROCS=1).
func BenchmarkCommitPerCore(b *testing.B) {
	ds, _ := records.Parse(csvData(20_000, 1))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for b.Loop() {
		records.Commitment(ds)
	}
	b.ReportMetric(float64(b.N)*float64(ds.Len())/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkFacts(b *testing.B) {
	ds, _ := records.Parse(csvData(benchRecords, 1))
	for b.Loop() {
		if _, err := facts.Compute(ds, facts.DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*benchRecords/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkProcess is the whole enclave job on all cores: hashes, unwrap,
// decrypt, parse, commitment, facts, attest, sign.
func BenchmarkProcess(b *testing.B) {
	enc := openSim(b, DefaultSimConfig(testRoot))
	j, _ := client(b, enc, csvData(20_000, 1), 1)
	b.SetBytes(int64(len(j.Blob)))
	for b.Loop() {
		out, err := enc.Process(j)
		if err != nil || out.Status != StatusVerified {
			b.Fatal(err, out)
		}
	}
	b.ReportMetric(float64(b.N)*20_000/b.Elapsed().Seconds(), "records/s")
}
