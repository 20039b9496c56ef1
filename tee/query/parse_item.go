package query

import "strings"

// item reads one select item: agg(args) or a bare column.
func (p *parser) item() (Item, error) {
	t := p.peek()
	if t.kind == tIdent && p.toks[p.i+1].kind == tLParen {
		a, ok := aggByName(strings.ToLower(t.text))
		if !ok {
			return Item{}, errAt(t.pos, KindSyntax, "unknown aggregate %s: want one of count, sum, avg, min, max, stddev, histogram", t.text)
		}
		p.next()
		p.next()
		it := Item{Agg: a, Pos: t.pos}
		if err := p.aggArgs(&it); err != nil {
			return Item{}, err
		}
		if _, err := p.want(tRParen, ") to close "+a.String()+"("); err != nil {
			return Item{}, err
		}
		return it, nil
	}
	name, err := p.column("or an aggregate in SELECT")
	if err != nil {
		return Item{}, err
	}
	return Item{Col: name, Pos: t.pos}, nil
}

func (p *parser) aggArgs(it *Item) error {
	if it.Agg == AggCount {
		_, err := p.want(tStar, "* in count(*)")
		return err
	}
	col, err := p.column("inside " + it.Agg.String() + "(")
	if err != nil {
		return err
	}
	it.Col = col
	if it.Agg != AggHistogram {
		return nil
	}
	var args [3]token
	for k, what := range []string{"the low end", "the high end", "the number of buckets"} {
		if _, err := p.want(tComma, ", then "+what+" in histogram(col, lo, hi, buckets)"); err != nil {
			return err
		}
		if args[k], err = p.want(tNum, "an integer for "+what+" in histogram(col, lo, hi, buckets)"); err != nil {
			return err
		}
	}
	it.Lo, it.Hi = args[0].val, args[1].val
	if it.Lo >= it.Hi {
		return errAt(args[1].pos, KindSyntax, "want the histogram's high end above its low end %d", it.Lo)
	}
	if b := args[2].val; b < 1 || b > MaxBuckets {
		return errAt(args[2].pos, KindSyntax, "want 1 to %d histogram buckets", MaxBuckets)
	}
	it.Buckets = int(args[2].val)
	return nil
}
