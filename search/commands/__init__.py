"""One module per `mnist-search` command, each with main(args); search/cli.py builds the parser."""
