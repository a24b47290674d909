package sdk

func serve(c Connector) { panic("not implemented yet") }
