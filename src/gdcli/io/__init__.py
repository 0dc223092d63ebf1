"""Files gdcli writes and reads back: atomic writes, the weights file."""
