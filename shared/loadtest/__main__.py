from shared.loadtest.cli import main

main()
