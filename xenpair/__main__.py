from xenpair.cli.app import main

main()
