// Command wrongtype is a test plugin whose NewSyncer has the wrong type.
package main

var NewSyncer = 42

func main() {}
