// Package review builds what a custody officer looks at before approving:
// every transaction of a request decoded by the chain adapters (never the
// request's own claims) into network, sources, destinations, assets,
// amounts, fees and change, with totals per asset and the request digest as
// hex and as words to read aloud. It renders a text table and a JSON form.
package review
