from gdcli.entry import main

main()
