"""Mail into a document library: public folders as .eml trees with an index page per folder."""
