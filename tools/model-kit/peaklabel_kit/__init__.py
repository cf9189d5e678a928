"""PeakLabel model kit: builds the PRM model bundle (resources/models) from ../shared."""
