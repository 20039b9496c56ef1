package codes

// The bus (5xxx): why a message was refused for good (terminated).
var busCodes = []entry{}
