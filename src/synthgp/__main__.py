from synthgp.cli import main

raise SystemExit(main())
