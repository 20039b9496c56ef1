package query

import (
	"strconv"
	"strings"
)

// tokKind is a lexical token's kind.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // a "double-quoted" column name
	tNum
	tLParen
	tRParen
	tComma
	tStar
	tOp // a comparison operator
)

type token struct {
	kind tokKind
	pos  int
	text string // identifier (as written), quoted name (unescaped) or operator
	val  int64
}

var keywords = map[string]bool{"SELECT": true, "WHERE": true, "GROUP": true, "BY": true,
	"AND": true, "OR": true, "NOT": true, "IN": true, "BETWEEN": true}

// is reports whether t is the keyword kw (case-insensitive).
func (t token) is(kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

// lex splits the text into tokens, ending with tEOF.
func lex(src string) ([]token, error) {
	var out []token
	for i := 0; ; {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		if i == len(src) {
			return append(out, token{kind: tEOF, pos: i}), nil
		}
		t, next, err := lexOne(src, i)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		i = next
	}
}

func lexOne(src string, i int) (token, int, error) {
	c := src[i]
	switch {
	case c == '(':
		return token{kind: tLParen, pos: i}, i + 1, nil
	case c == ')':
		return token{kind: tRParen, pos: i}, i + 1, nil
	case c == ',':
		return token{kind: tComma, pos: i}, i + 1, nil
	case c == '*':
		return token{kind: tStar, pos: i}, i + 1, nil
	case c == '"':
		return lexQuoted(src, i)
	case c == '-' || isDigit(c):
		return lexNum(src, i)
	case isIdentStart(c):
		j := i + 1
		for j < len(src) && isIdentPart(src[j]) {
			j++
		}
		return token{kind: tIdent, pos: i, text: src[i:j]}, j, nil
	case c == '=' || c == '<' || c == '>' || c == '!':
		return lexOp(src, i)
	}
	return token{}, 0, errAt(i, KindSyntax, "unexpected character %q: want a keyword, a column name, a number or one of ( ) , * = != < <= > >=", rune(c))
}

func lexOp(src string, i int) (token, int, error) {
	two := ""
	if i+1 < len(src) {
		two = src[i : i+2]
	}
	switch two {
	case "!=", "<=", ">=":
		return token{kind: tOp, pos: i, text: two}, i + 2, nil
	case "<>":
		return token{kind: tOp, pos: i, text: "!="}, i + 2, nil
	}
	if src[i] == '!' {
		return token{}, 0, errAt(i, KindSyntax, "want != (a lone ! is not an operator)")
	}
	return token{kind: tOp, pos: i, text: src[i : i+1]}, i + 1, nil
}

func lexNum(src string, i int) (token, int, error) {
	j := i
	if src[j] == '-' {
		j++
		if j == len(src) || !isDigit(src[j]) {
			return token{}, 0, errAt(i, KindSyntax, "want a digit right after - (negative numbers are written -5; there is no arithmetic)")
		}
	}
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	if j < len(src) && (isIdentPart(src[j]) || src[j] == '.') {
		return token{}, 0, errAt(j, KindSyntax, "want a space or an operator after the number %s (numbers are integers)", src[i:j])
	}
	v, err := strconv.ParseInt(src[i:j], 10, 64)
	if err != nil {
		return token{}, 0, errAt(i, KindSyntax, "the number %s is outside the 64-bit integer range", src[i:j])
	}
	return token{kind: tNum, pos: i, val: v}, j, nil
}

func lexQuoted(src string, i int) (token, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		if src[j] != '"' {
			b.WriteByte(src[j])
			continue
		}
		if j+1 < len(src) && src[j+1] == '"' {
			b.WriteByte('"')
			j++
			continue
		}
		if b.Len() == 0 {
			return token{}, 0, errAt(i, KindSyntax, "want a column name between the quotes")
		}
		return token{kind: tQuoted, pos: i, text: b.String()}, j + 1, nil
	}
	return token{}, 0, errAt(i, KindSyntax, "want a closing \" for the quoted column name")
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
