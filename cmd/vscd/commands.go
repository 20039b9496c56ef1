package main

import (
	"github.com/vsc-labs/vsc/cmd/vscd/internal/bench"
	"github.com/vsc-labs/vsc/internal/cli"
)

// commands is vscd's command table: every subcommand, its usage line and
// what it runs. A new command is one row here.
func commands() []cli.Command {
	return []cli.Command{
		{Name: "devnet", Usage: "[--data DIR] [--listen :8080] [--quorum N] [--lanes N] [--faulty-executor]: every role in one process", Run: cmdDevnet},
		{Name: "coordinator", Usage: "--listen :8080 [--chain URL --chain-key FILE --enclave FILE] [--nats URL --nats-creds FILE]: the coordinator role (DATABASE_URL, NATS_URL)", Run: cmdCoordinator},
		{Name: "worker", Usage: "--tee-backend sim|ego --data DIR [--nats URL --nats-creds FILE] [--zk] [--chain URL --optimistic-key FILE [--watch-only]] [--show-key|--show-policy]: TEE verifier, zk prover, optimistic executor/watcher (NATS_URL, VSC_*)", Run: cmdWorker},
		{Name: "quorum", Usage: "--key FILE (--genesis FILE | --sequencer ADDR) [--chain URL] [--nats URL --nats-creds FILE] [--idao NAME,…] [--zk-keys DIR] [--tee-policy FILE]: a quorum member node; it believes chain state only with proofs under headers the sequencer signed", Run: cmdQuorum},
		{Name: "chain", Usage: "[--data DIR] [--lanes N] [--block-time D] [--block-size N] [--listen ADDR] [--genesis FILE] [--key FILE] [--follow URL [--sequencer ADDR]]: the chain sequencer and its read API, or with --follow a verifying follower", Run: cmdChain},
		{Name: "chain replay", Usage: "--data DIR [--lanes N]: re-execute every block from genesis and check every root", Run: cmdChainReplay},
		{Name: "cluster up", Usage: "--data DIR [--nats 3] [--coordinators 2] [--workers 2] [--provers 1] [--members 4] [--followers 1]: every role as its own supervised OS process, config files under DIR", Run: cmdClusterUp},
		{Name: "cluster down", Usage: "--data DIR: stop the cluster", Run: cmdClusterDown},
		{Name: "cluster kill", Usage: "NAME --data DIR: kill -9 one of its processes (the supervisor restarts it)", Run: cmdClusterKill},
		{Name: "cluster status", Usage: "--data DIR [--json]: the cluster's processes", Run: cmdClusterStatus},
		{Name: "nats creds", Usage: "--role coordinator|tee|zk|optimistic|member[,…] [--member ADDR|KEYFILE] [--name NAME] --out FILE: a NATS user key for one role holder (FILE secret, FILE.pub for the server)", Run: cmdNATSCreds},
		{Name: "nats config", Usage: "--out FILE [--listen HOST:PORT] [--store DIR] [--max-store BYTES] [--tls-cert F --tls-key F [--tls-ca F]] [--cluster NAME --name SERVER --cluster-listen HOST:PORT --routes URL,…] USER.pub…: a nats-server config with those users and their roles' permissions (and a JetStream cluster block)", Run: cmdNATSConfig},
		{Name: "nats serve", Usage: "--config FILE: run nats-server (the pinned version, JetStream) from that config as this process", Run: cmdNATSServe},
		{Name: "zk setup", Usage: "--chunk C --fields F [--ranges MIN:BITS,…] [--keys DIR] --json: make (or load) the dev keys of a circuit shape; prints its vk hash", Run: cmdZKSetup},
		{Name: "zk import", Usage: "--chunk C --fields F [--ranges …] --pk FILE --vk FILE [--keys DIR] --json: install ceremony keys (checked by a test proof)", Run: cmdZKImport},
		{Name: "zk export-verifier", Usage: "--vk FILE|HASH --out Verifier.sol [--keys DIR] [--api URL]: gnark's Solidity verifier for a zk verifying key", Run: cmdZKExportVerifier},
		{Name: "zk calldata", Usage: "--proof FILE [--chunk I]: a chunk proof as calldata for the Solidity verifier's verifyProof", Run: cmdZKCalldata},
		{Name: "bench intake", Usage: "--submissions N --clients C --json: signed encrypted submissions over HTTP", Run: bench.Intake},
		{Name: "bench chain", Usage: "--txs N --lanes N --conflict F --seed S [--block-size N] --json: signed transfers through the sequencer", Run: bench.Chain(chainGCPercent)},
		{Name: "bench prove", Usage: "--records N [--chunk C] [--fields F] [--parallel P] [--keys DIR] --json: ZK setup, chunk proofs and evidence verification", Run: bench.Prove},
		{Name: "bench e2e", Usage: "--submissions N --mode tee|zk|tee+zk [--clients C] [--cluster] --json: submit → minted through a whole in-process devnet (--cluster: and then a multi-process cluster, with the ratio)", Run: bench.E2E(benchPipeline, clusterPipeline)},
		{Name: "bench query", Usage: "[--records N] [--jobs N] [--clients N] [--query SQL] --json: data-service queries, signed request → verified answer, through a whole in-process devnet, then their settlement", Run: bench.Query(benchPipeline)},
		{Name: "bench dataset", Usage: "[--records N] [--fields F] [--mode tee] --json: one large dataset minted in bounded memory, the client a child process; wall time per phase, peak RSS of both", Run: bench.Dataset(benchPipeline)},
		{Name: "bench dataset-client", Usage: "(run by bench dataset) the client side of one large dataset", Run: bench.DatasetClient},
		{Name: "bench tee", Usage: "[--records N] [--fields F] --json: enclave throughput (decrypt+parse, commitment, facts, whole job)", Run: bench.TEE},
	}
}
