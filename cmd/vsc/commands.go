package main

import "github.com/vsc-labs/vsc/internal/cli"

// commands is vsc's command table: every subcommand, its usage line and
// what it runs. A new command is one row here.
func commands() []cli.Command {
	return []cli.Command{
		{Name: "key new", Usage: "--out FILE: make a new secp256k1 key", Run: keyNew},
		{Name: "key show", Usage: "FILE: print the key's address", Run: keyShow},
		{Name: "submit", Usage: "FILE --idao NAME [--mode M] [--class C] --key FILE [--wait] [--allow-simulation] [--sequencer ADDR] [--chain URL] [--tee-policy FILE] | --prepare OUT --from ADDR | --prepared F --signature 0x…: the iDAO's TEE policy and enclave key are read from chain state proven under the sequencer's signature", Run: submit},
		{Name: "status", Usage: "ID: a submission's state, evidence, votes, anchor, DAT", Run: status},
		{Name: "idao list", Usage: "iDAOs and their policy, members, stake", Run: idaoList},
		{Name: "idao show", Usage: "NAME: one iDAO", Run: idaoShow},
		{Name: "idao create", Usage: "NAME --policy MODE [--modes M1,M2] [--price N] [--stake N] [--tee-policy FILE] [--vk HASH] [--min-group-size K] --key FILE: a new iDAO on chain", Run: idaoCreate},
		{Name: "idao join", Usage: "NAME --stake N --key FILE: stake in an iDAO (joining it)", Run: idaoJoin},
		{Name: "idao register-enclave", Usage: "NAME --enclave FILE --key FILE: register a TEE worker's enclave key (`vscd worker --show-key --json`) for an iDAO; the chain checks its attestation against the iDAO's TEE policy", Run: idaoRegisterEnclave},
		{Name: "dat show", Usage: "CLASS: a DAT class, its provenance, tokens and revenue", Run: cmdDATShow},
		{Name: "dat list", Usage: "[--owner ADDR] [--class CLASS]: DAT tokens", Run: cmdDATList},
		{Name: "dat buy", Usage: "CLASS --units N --key FILE: pay units × price, get a token of N units", Run: cmdDATBuy},
		{Name: "dat redeem", Usage: "TOKEN --units N --key FILE: use N units; prints the receipt signed by the chain", Run: cmdDATRedeem},
		{Name: "dat transfer", Usage: "TOKEN --to ADDR [--value N] --key FILE: give the token, or split N units off", Run: cmdDATTransfer},
		{Name: "dat claim", Usage: "TOKEN --key FILE: take the token's revenue share", Run: cmdDATClaim},
		{Name: "dat query-policy", Usage: "CLASS [--allow AGG,…] [--columns COL,…] --key FILE: the contributor restricts the queries apps may run over the class's data", Run: cmdDATQueryPolicy},
		{Name: "claims", Usage: "[--open]: optimistic claims and their challenge windows", Run: cmdClaims},
		{Name: "challenge", Usage: "CLAIM_ID --bond N --key FILE --data FILE [--force] [--no-play]: dispute a claim on data you hold", Run: cmdChallenge},
		{Name: "chain head", Usage: "the last block's header", Run: cmdChainHead},
		{Name: "chain block", Usage: "N|0xHASH: a block and its txs", Run: cmdChainBlock},
		{Name: "chain proof", Usage: "TX [--out FILE]: an inclusion proof of TX, checkable offline", Run: cmdChainProof},
		{Name: "chain verify-proof", Usage: "FILE [--sequencer ADDR]: check a proof offline (tx inclusion or state)", Run: cmdChainVerifyProof},
		{Name: "balance", Usage: "ADDR [--prove FILE]: chain balance, stake and nonce", Run: cmdBalance},
		{Name: "provider list", Usage: "[--idao NAME]: data-service providers: address, iDAO, enclave key, fee per job, stake, attested", Run: cmdProviderList},
		{Name: "escrow deposit", Usage: "PROVIDER --amount N --key FILE: move N from the balance into the sub-account with PROVIDER", Run: cmdEscrowDeposit},
		{Name: "escrow show", Usage: "(--key FILE | --address ADDR): sub-accounts: balance, pending refund and when it unlocks, nonce", Run: cmdEscrowShow},
		{Name: "escrow refund", Usage: "PROVIDER [--amount N] --key FILE: start a refund (a lock begins)", Run: cmdEscrowRefund},
		{Name: "escrow withdraw", Usage: "PROVIDER --key FILE: take unlocked refunds back to the balance", Run: cmdEscrowWithdraw},
		{Name: "query", Usage: "CLASS 'SELECT …' --token TOKEN --key FILE [--provider ADDR] [--units N] [--max-fee N] [--timeout D] [--out FILE] [--sequencer ADDR]: sign a JobRequest, wait for the answer, verify it against the iDAO's proven policy, decrypt and print it", Run: cmdQuery},
		{Name: "job show", Usage: "JOB: a job's status and settlement", Run: cmdJobShow},
		{Name: "job verify", Usage: "FILE [--key FILE]: re-check a saved answer offline", Run: cmdJobVerify},
	}
}
