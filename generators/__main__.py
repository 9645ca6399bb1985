from generators import main

raise SystemExit(main())
