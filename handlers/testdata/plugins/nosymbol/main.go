// Command nosymbol is a test plugin that does not export NewSyncer.
package main

func NewHandler() {}

func main() {}
