"""What client setup needs from outside: DNS answers from a zone file, signing of Apple profiles."""
