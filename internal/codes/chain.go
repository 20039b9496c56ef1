package codes

// The chain's door (3xxx): why SubmitTx refuses a tx before any block.
var chainDoorCodes = []entry{}

// The chain's execution (4xxx): why a tx in a block failed, or why one item
// of a batch was skipped. These numbers are in receipts: consensus data.
var chainExecCodes = []entry{}
